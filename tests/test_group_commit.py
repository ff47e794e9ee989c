"""Group commit (`app.ledger.group_commit`): single calls recorded at the same moment share one write,
and every caller still gets its own call's answer — stored, duplicate, or its own error.

These tests commit for real (a write must be held up by another transaction while calls queue
behind it), under a company id of their own, deleted afterwards (`tests.committed`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from app.db import Database
from app.ledger.group_commit import GroupCommit
from app.ledger import COPY_ABOVE
from app.models import LlmCall
from app.pricing import PriceCache
from app.records import IngestResult, NewCall
from tests.committed import delete_company

COMPANY = "group-commit-test"


@pytest.fixture
def group(engine: Engine, database_url: str) -> Iterator[GroupCommit]:
    database = Database.from_url(database_url)  # as the app makes it (its pool checks connections)
    yield GroupCommit(database, PriceCache())
    database.engine.dispose()
    delete_company(engine, COMPANY)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        yield pool


def call(request_id: str | None, **changes) -> NewCall:
    return NewCall(**{"provider": "openai", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100,
                      "company_id": COMPANY, "request_id": request_id} | changes)


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def holding_key(engine: Engine, request_id: str) -> Connection:
    """A transaction that holds `request_id`'s idempotency key uncommitted: a write of a call
    with that key waits for it to end."""
    conn = engine.connect()
    conn.execute(text("INSERT INTO llm_call_request (company_id, request_id, call_id, call_timestamp) "
                      "VALUES (:company, :request, -1, now())"), {"company": COMPANY, "request": request_id})
    return conn


def waiting_writes(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND wait_event_type = 'Lock'"))


def stored_calls(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(LlmCall).where(LlmCall.company_id == COMPANY))


def behind_a_held_write(engine: Engine, group: GroupCommit, pool: ThreadPoolExecutor,
                        queued: list[NewCall]) -> tuple[Future[IngestResult], list[Future[IngestResult]]]:
    """Start a write that waits for another transaction, queue `queued` behind it, then let it go.
    Returns the futures of the held call and of the queued ones."""
    blocker = holding_key(engine, "held")
    try:
        held = pool.submit(group.record, call("held"))
        wait_until(lambda: waiting_writes(engine) == 1, "the first write waits for the held key")
        futures = []
        for queued_call in queued:
            futures.append(pool.submit(group.record, queued_call))
            wait_until(lambda: group.queued == len(futures), "the call queues behind the write")
    finally:
        blocker.rollback()
        blocker.close()
    return held, futures


def test_calls_that_arrive_during_a_write_are_written_together(engine, group, pool):
    held, futures = behind_a_held_write(engine, group, pool, [call("b"), call("c"), call(None), call("b")])
    first = held.result(timeout=10)
    b, c, keyless, b_again = (future.result(timeout=10) for future in futures)
    assert (group.groups, group.calls) == (2, 5)  # the held call alone, then the four queued behind it
    assert not first.duplicate and not b.duplicate and not c.duplicate and not keyless.duplicate
    assert b_again.duplicate and b_again.call == b.call  # a retry in the same group is its duplicate
    assert len({first.call.id, b.call.id, c.call.id, keyless.call.id}) == 4
    assert b.call.request_id == "b" and c.call.request_id == "c" and keyless.call.request_id is None
    assert all(result.call.priced for result in (first, b, c, keyless))
    assert stored_calls(engine) == 4


def test_a_call_the_database_refuses_fails_alone(engine, group, pool):
    refused = call("refused", metadata={"note": "\x00"})  # jsonb cannot hold U+0000: PostgreSQL refuses it
    held, futures = behind_a_held_write(engine, group, pool, [call("ok-1"), refused, call("ok-2")])
    held.result(timeout=10)
    ok_1, failed, ok_2 = futures
    with pytest.raises(psycopg.DataError, match="unsupported Unicode escape sequence"):
        failed.result(timeout=10)
    assert ok_1.result().call.request_id == "ok-1" and ok_2.result().call.request_id == "ok-2"
    assert stored_calls(engine) == 3


def terminate_waiting_writes(engine: Engine) -> None:
    """The database drops the connection of every write waiting for a lock."""
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND wait_event_type = 'Lock'"))


def test_a_lost_connection_fails_its_group_and_the_next_group_is_written(engine, group, pool):
    first_blocker, second_blocker = holding_key(engine, "held"), holding_key(engine, "second")
    try:
        held = pool.submit(group.record, call("held"))
        wait_until(lambda: waiting_writes(engine) == 1, "the first write waits for the held key")
        queued = [pool.submit(group.record, call("second")), pool.submit(group.record, call(None))]
        wait_until(lambda: group.queued == 2, "two calls queue behind the first write")
        first_blocker.rollback()
        assert held.result(timeout=10).call.request_id == "held"
        wait_until(lambda: waiting_writes(engine) == 1, "the second group waits for its held key")
        terminate_waiting_writes(engine)
        for future in queued:  # both calls of the group fail; neither is written again on its own
            with pytest.raises(psycopg.OperationalError, match="terminat"):
                future.result(timeout=10)
    finally:
        for blocker in (first_blocker, second_blocker):
            blocker.rollback()
            blocker.close()
    after = group.record(call("after"))  # the next group gets a working connection
    assert not after.duplicate and stored_calls(engine) == 2
    assert (group.groups, group.calls) == (3, 4)


def test_a_call_alone_is_written_at_once(engine, group):
    started = time.monotonic()
    results = [group.record(call(f"alone-{n}")) for n in range(3)]
    assert [result.call.request_id for result in results] == ["alone-0", "alone-1", "alone-2"]
    assert (group.groups, group.calls) == (3, 3)
    assert time.monotonic() - started < 10  # no timer to wait for (a loose bound: this is no benchmark)


def test_groups_are_at_most_one_statement_of_calls(engine):
    with pytest.raises(ValueError):
        GroupCommit(Database(engine), None, max_calls=COPY_ABOVE + 1)


def test_many_threads_each_get_their_own_call(engine, group):
    """32 threads, 4 calls each, as fast as they can: every answer is the caller's own call."""
    def client(n: int) -> list[tuple[str, IngestResult]]:
        return [(f"t{n}-{k}", group.record(call(f"t{n}-{k}", input_tokens=1000 + n))) for k in range(4)]

    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = [answer for answers in pool.map(client, range(32)) for answer in answers]
    assert all(result.call.request_id == key and not result.duplicate for key, result in answers)
    assert all(result.call.input_tokens == 1000 + int(key[1:].split("-")[0]) for key, result in answers)
    assert len({result.call.id for _, result in answers}) == 128 == stored_calls(engine)
    assert group.calls == 128
