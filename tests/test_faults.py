"""PostgreSQL killed and started again while 8 clients ingest through a real gunicorn.

While it is down the clients get 503 with Retry-After; the service recovers by itself (no
restart of gunicorn); once the clients have retried every call that was not acknowledged (same
requestId), the stored calls are exactly the ones sent — none lost, none doubled — and every rollup
equals the raw GROUP BY. Runs against a throwaway cluster of its own (it is stopped mid-test).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from app import embedded_pg
from bench.client import Client, use_platform_key
from bench.database import migrate
from bench.server import gunicorn
from tests.rollups import rollup_differences

CLIENTS = 8
BATCH_CLIENTS = 2  # of which these send batches of BATCH calls, the others single calls
BATCH = 25


@pytest.fixture
def cluster():
    parent = Path(tempfile.mkdtemp(prefix="ledger-faults-pg-"))
    cluster = embedded_pg.throwaway(parent / "data", fast=False)  # durable: an acknowledged call survives
    cluster.create_database("ledger")
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(parent, ignore_errors=True)


def _call(request_id: str, n: int) -> dict:
    return {"provider": "openai", "model": "gpt-4o", "inputTokens": 100 + n, "outputTokens": 10,
            "companyId": "faults", "userId": f"u{n % 13}", "assistantId": f"a{n % 3}", "requestId": request_id}


class Outcomes:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: set[str] = set()
        self.acknowledged: set[str] = set()
        self.pending: list[list[str]] = []  # request bodies (by request ids) to send again
        self.statuses: Counter[int] = Counter()
        self.retry_after: set[str] = set()
        self.acknowledged_at: list[float] = []


def _send(base: str, key: str, ids: list[str], outcomes: Outcomes) -> bool:
    calls = [_call(request_id, int(request_id.rsplit("-", 1)[1])) for request_id in ids]
    path, body = ("/api/calls", calls[0]) if len(calls) == 1 else ("/api/calls/batch", {"calls": calls})
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": key})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
        if status == 503:
            with outcomes.lock:
                outcomes.retry_after.add(error.headers.get("Retry-After", ""))
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        status = 0  # no answer at all: as unacknowledged as a 503
    with outcomes.lock:
        outcomes.statuses[status] += 1
        if status in (200, 201):
            outcomes.acknowledged.update(ids)
            outcomes.acknowledged_at.append(time.monotonic())
            return True
        outcomes.pending.append(ids)
    return False


def test_a_database_killed_mid_ingest_loses_and_doubles_nothing(cluster, tmp_path):
    url = cluster.url("ledger")
    engine = create_engine(url, pool_pre_ping=True)  # its connections die with the server too
    migrate(engine)
    key = use_platform_key(engine)
    Client.authorization = None
    outcomes = Outcomes()
    stop = threading.Event()

    with gunicorn(url, workers=2, log_path=tmp_path / "gunicorn.log") as (host, port, _):
        base = f"http://{host}:{port}"

        def client(number: int) -> None:
            n = 0
            while not stop.is_set():
                size = BATCH if number < BATCH_CLIENTS else 1
                ids = [f"c{number}-{n + k}" for k in range(size)]
                n += size
                with outcomes.lock:
                    outcomes.sent.update(ids)
                if not _send(base, f"Bearer {key}", ids, outcomes):
                    time.sleep(0.2)

        threads = [threading.Thread(target=client, args=(number,)) for number in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        embedded_pg._run(embedded_pg._as_server_user() + [embedded_pg.find_bin("pg_ctl"), "-D", str(cluster.datadir),
                                                            "-m", "immediate", "-w", "stop"])  # as kill -9 would
        time.sleep(2.0)
        cluster.start()
        restarted = time.monotonic()
        time.sleep(3.0)
        stop.set()
        for thread in threads:
            thread.join()

        # The service came back by itself: calls were acknowledged after the restart.
        assert any(moment > restarted for moment in outcomes.acknowledged_at)
        assert outcomes.statuses[503] > 0 and outcomes.retry_after == {"1"}, outcomes.statuses
        assert set(outcomes.statuses) <= {200, 201, 503}, outcomes.statuses  # never a 500, never no answer

        # The clients retry what was not acknowledged, with the same requestIds.
        deadline = time.monotonic() + 60
        while outcomes.pending and time.monotonic() < deadline:
            with outcomes.lock:
                again, outcomes.pending = outcomes.pending, []
            for ids in again:
                _send(base, f"Bearer {key}", ids, outcomes)
        assert not outcomes.pending
        assert outcomes.acknowledged == outcomes.sent

    with Session(engine) as session:
        stored = Counter(session.execute(text(
            "SELECT request_id FROM llm_call_log WHERE company_id = 'faults'")).scalars())
        assert set(stored) == outcomes.sent  # none lost
        assert max(stored.values()) == 1  # none doubled
        assert rollup_differences(session) == {}
    engine.dispose()
