"""Alerts exactly once under real concurrency: 16 clients cross a budget's thresholds at the same
moment through a real gunicorn with 4 workers (each delivering alerts from its own thread); one
alert per threshold is recorded, the budget's spend equals the raw sum of its calls, and the local
webhook receives each alert once.

The test commits for real, under a company of its own, and deletes what it wrote (`tests.committed`).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.alerts.delivery import sign
from app.models import ApiKey, BudgetAlert, BudgetSpend, LlmCall
from bench.client import Client, use_platform_key
from bench.server import gunicorn as serve
from tests.committed import delete_company, partitions_restored
from tests.receiver import Receiver

COMPANY = "alert-concurrency-test"
SECRET = "concurrency-secret"
CLIENTS, CALLS_EACH = 16, 4
COST = Decimal("0.0075")  # gpt-4o, 1,000 in and 500 out


def request(method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    made = urllib.request.Request(url, data=json.dumps(body).encode() if body else None, method=method,
                                  headers={"Content-Type": "application/json", "Authorization": Client.authorization})
    with urllib.request.urlopen(made, timeout=30) as response:
        return response.status, json.loads(response.read())


@pytest.fixture
def service(database_url, engine, tmp_path):
    receiver = Receiver().start()
    use_platform_key(engine)
    try:
        with partitions_restored(engine):
            try:
                env = {"WEBHOOK_SECRET": SECRET, "ALERT_WEBHOOK_URL": receiver.url}
                with serve(database_url, workers=4, log_path=tmp_path / "gunicorn.log", env=env) as (host, port, _):
                    yield f"http://{host}:{port}", receiver
            finally:
                delete_company(engine, COMPANY)
    finally:
        receiver.stop()
        with engine.begin() as conn:
            conn.execute(delete(ApiKey).where(ApiKey.name == "bench"))
        Client.authorization = None


def test_sixteen_clients_crossing_together_record_and_deliver_each_alert_once(service, engine):
    base, receiver = service
    limit = COST * CLIENTS * CALLS_EACH / 2  # crossed halfway: 100% after 32 of the 64 calls
    status, budget = request("POST", f"{base}/api/budgets", {
        "companyId": COMPANY, "period": "day", "timezone": "America/New_York", "limit": str(limit),
        "thresholds": [25, 50, 80, 100]})
    assert status == 201, budget
    start = threading.Barrier(CLIENTS)
    now = datetime.now(UTC).isoformat()

    def client(n: int) -> list[int]:
        start.wait()  # every client fires at the same moment
        return [request("POST", f"{base}/api/calls", {
            "provider": "openai", "model": "gpt-4o", "inputTokens": 1000, "outputTokens": 500,
            "companyId": COMPANY, "userId": f"u{n}", "timestamp": now})[0] for _ in range(CALLS_EACH)]

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        statuses = [s for answers in pool.map(client, range(CLIENTS)) for s in answers]
    assert statuses == [201] * CLIENTS * CALLS_EACH

    with Session(engine) as session:
        alerts = session.scalars(select(BudgetAlert).where(BudgetAlert.budget_id == budget["id"])).all()
        spent = session.scalar(select(BudgetSpend.spent).where(BudgetSpend.budget_id == budget["id"]))
        raw = session.scalar(select(func.sum(LlmCall.total_cost)).where(LlmCall.company_id == COMPANY))
    assert sorted(a.threshold for a in alerts) == [25, 50, 80, 100]  # exactly one each
    assert spent == raw == COST * CLIENTS * CALLS_EACH
    for alert in alerts:  # each recorded with the spend of the write that crossed it
        assert limit * alert.threshold / 100 <= alert.spent <= raw

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len({r.headers["x-ledger-alert-id"] for r in receiver.received}) < 4:
        time.sleep(0.2)
    ids = sorted(int(r.headers["x-ledger-alert-id"]) for r in receiver.received)
    assert ids == sorted(a.id for a in alerts)  # every alert delivered, none twice
    assert all(r.headers["x-ledger-signature"] == sign(SECRET.encode(), r.body) for r in receiver.received)
    status, listed = request("GET", f"{base}/api/alerts?budgetId={budget['id']}")
    assert status == 200 and len(listed["alerts"]) == 4
