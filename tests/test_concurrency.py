"""Retries racing each other through a real gunicorn: one call stored, every answer the same call.

These tests commit for real (the race needs separate transactions), so they use their own
company id and delete what they wrote (`tests.committed`).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from bench.client import Client, use_platform_key
from bench.server import gunicorn as serve
from app.ledger import Ledger
from app.models import ApiKey, LlmCall
from app.records import NewCall
from tests.committed import delete_company, partitions_restored
from tests.rollups import rollup_differences

COMPANY = "concurrency-test"


@pytest.fixture
def cleanup(engine):
    with partitions_restored(engine):
        yield
        delete_company(engine, COMPANY)


@pytest.fixture
def gunicorn(database_url, engine, cleanup, tmp_path):
    """The base URL of a real gunicorn with 4 workers (the benchmark's, `bench.server`), and the
    platform key the requests send (committed, deleted afterwards)."""
    use_platform_key(engine)
    try:
        with serve(database_url, workers=4, log_path=tmp_path / "gunicorn.log") as (host, port, _):
            yield f"http://{host}:{port}"
    finally:
        with engine.begin() as conn:
            conn.execute(delete(ApiKey).where(ApiKey.name == "bench"))
        Client.authorization = None


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": Client.authorization or ""})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def test_concurrent_retries_through_gunicorn_store_one_call(gunicorn, engine):
    body = {"provider": "openai", "model": "gpt-4o", "inputTokens": 100, "outputTokens": 10,
            "companyId": COMPANY, "requestId": "same-key", "timestamp": "2026-03-05T10:00:00+00:00"}
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: post(f"{gunicorn}/api/calls", body), range(32)))
    statuses = sorted(status for status, _ in answers)
    assert statuses.count(201) == 1 and statuses.count(200) == 31
    assert len({answer["id"] for _, answer in answers}) == 1
    with Session(engine) as session:
        stored = session.scalar(select(func.count()).select_from(LlmCall).where(LlmCall.company_id == COMPANY))
    assert stored == 1


def test_concurrent_batches_keep_rollups_exact_and_never_deadlock(gunicorn, engine):
    """8 clients post overlapping batches (same rollup rows, shared request ids, keys in opposite
    orders) at once; every request succeeds and the rollup equals a raw GROUP BY afterwards."""
    def batch(client: int) -> dict:
        calls = []
        for n in range(200):
            key = n if client % 2 else 196 - n  # half the clients take the shared keys in reverse order
            calls.append({"provider": "openai", "model": ["gpt-4o", "gpt-4o-mini"][n % 2], "inputTokens": 100 + n,
                          "outputTokens": client, "companyId": COMPANY, "userId": f"u{n % 3}",
                          "assistantId": f"a{n % 2}", "endpoint": "/chat", "success": n % 7 != 0,
                          "timestamp": f"2026-03-0{1 + n % 3}T10:00:00+00:00",
                          "requestId": f"shared-{key}" if n % 4 == 0 else f"c{client}-{n}"})
        return {"calls": calls}

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda c: post(f"{gunicorn}/api/calls/batch", batch(c)), range(8)))
    assert all(status == 200 for status, _ in answers)
    assert sum(answer["stored"] for _, answer in answers) == 8 * 150 + 50  # 50 shared keys stored once
    with Session(engine) as session:
        assert rollup_differences(session, COMPANY) == {}
        calls, cost = session.execute(text(
            "SELECT count(*), sum(total_cost) FROM llm_call_log WHERE company_id = :c"), {"c": COMPANY}).one()
        for table in ("rollup_company_hour", "rollup_company_month", "rollup_user_model_day"):
            assert session.execute(text(f"SELECT sum(calls), sum(total_cost) FROM {table} WHERE company_id = :c"),
                                   {"c": COMPANY}).one() == (calls, cost)


def test_a_retry_waits_for_the_first_writer_and_then_sees_its_call(engine, cleanup):
    call = NewCall(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1, company_id=COMPANY,
                   request_id="racing")
    first = Session(engine)
    [original] = Ledger(first).record([call])  # holds the key, not yet committed
    second_result = []

    def retry():
        with Session(engine) as second:
            second_result.extend(Ledger(second).record([call]))
            second.commit()

    thread = threading.Thread(target=retry)
    thread.start()
    thread.join(timeout=1)
    assert thread.is_alive(), "the retry must wait for the first writer's key"
    first.commit()
    first.close()
    thread.join(timeout=10)
    assert second_result[0].duplicate and second_result[0].call.id == original.call.id


def test_a_retry_after_the_first_writer_rolled_back_is_stored(engine, cleanup):
    call = NewCall(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1, company_id=COMPANY,
                   request_id="rolled-back")
    with Session(engine) as first:
        Ledger(first).record([call])
        first.rollback()
    with Session(engine) as second:
        [result] = Ledger(second).record([call])
        second.commit()
    assert not result.duplicate
