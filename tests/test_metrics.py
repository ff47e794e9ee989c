"""`GET /metrics` for Prometheus: ingest requests, calls and latency counted at the edge, alert
deliveries, and the database's totals read from the rollups at scrape time — equal to SQL over the
calls — for a key that spans every company; and exact under a real gunicorn with 3 workers,
whichever worker answers the scrape."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from app import create_app
from app.alerts.delivery import Deliverer
from app.auth.keys import create_key
from app.config import Settings
from app.db import Database
from app.embedded_pg import PROJECT_ROOT
from app.metrics import multiprocess, stored
from app.models import ApiKey
from bench.server import gunicorn as serve
from tests.committed import delete_company, partitions_restored
from tests.receiver import Receiver
from tests.test_alerts import Clock
from tests.test_budget_spend import budget, call

COMPANY = "metrics-test"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(autouse=True)
def _no_partitions_left(engine):
    """The service's partition keeper commits the months these calls fall in: dropped afterwards."""
    with partitions_restored(engine):
        yield


@pytest.fixture
def app(engine, session_factory, database_url):
    """The real app (conftest's), reading the database's totals at every scrape rather than every 5 s."""
    made = create_app(Settings(database_url=database_url, metrics_cache_seconds=0), Database(engine, session_factory))
    made.config["TESTING"] = True
    return made


def parse(exposition: str) -> Samples:
    return parse_families(text_string_to_metric_families(exposition))


def parse_families(families) -> Samples:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in families for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name` over every series whose labels include `labels`."""
    return sum(v for (n, series), v in samples.items() if n == name and set(labels.items()) <= set(series))


def scrape(client) -> Samples:
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"] == CONTENT_TYPE_LATEST
    return parse(answer.get_data(as_text=True))


def delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def a_call(model: str = "gpt-4o", provider: str = "openai", **fields) -> dict:
    return {"provider": provider, "model": model, "inputTokens": 1000, "outputTokens": 500, "companyId": COMPANY,
            "timestamp": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()} | fields


def test_ingest_counters_and_database_totals_follow_the_calls(client, session):
    before = scrape(client)
    first = a_call(requestId=str(uuid.uuid4()))
    singles = [first, a_call("claude-sonnet-4-5-20250929", "anthropic", success=False, error="overloaded"),
               a_call("metrics-test-unknown-model")]
    assert [client.post("/api/calls", json=body).status_code for body in singles] == [201, 201, 201]
    assert client.post("/api/calls", json=first).status_code == 200  # a retry: the duplicate
    assert client.post("/api/calls", json=a_call(inputTokens=-1)).status_code == 400
    batch = [a_call(), a_call("claude-sonnet-4-5", "anthropic"), a_call("metrics-test-unknown-model"),
             a_call("gemini-2.5-flash", "google"), first]
    answer = client.post("/api/calls/batch", json={"calls": batch})
    assert (answer.status_code, answer.json["stored"], answer.json["duplicates"]) == (200, 4, 1)
    after = scrape(client)

    calls, requests = "llm_ledger_ingest_calls_total", "llm_ledger_ingest_requests_total"
    assert delta(after, before, calls, endpoint="single", outcome="stored") == 3
    assert delta(after, before, calls, endpoint="single", outcome="duplicate") == 1
    assert delta(after, before, calls, endpoint="batch", outcome="stored") == 4
    assert delta(after, before, calls, endpoint="batch", outcome="duplicate") == 1
    assert {code: delta(after, before, requests, endpoint="single", code=code) for code in ("201", "200", "400")} == {
        "201": 3, "200": 1, "400": 1}
    assert delta(after, before, requests, endpoint="batch", code="200") == 1
    latency = "llm_ledger_ingest_request_duration_seconds"
    assert delta(after, before, latency + "_count", endpoint="single") == 5
    assert delta(after, before, latency + "_count", endpoint="batch") == 1
    assert delta(after, before, latency + "_bucket", endpoint="batch", le="+Inf") == 1
    assert delta(after, before, latency + "_sum", endpoint="single") > 0

    # The database's totals moved by exactly this company's calls, by canonical provider and model.
    raw = session.execute(text(
        "SELECT canonical_provider, canonical_model, count(*), count(*) FILTER (WHERE NOT success), "
        "count(*) FILTER (WHERE price_id IS NULL), coalesce(sum(total_cost), 0) "
        "FROM llm_call_log WHERE company_id = :company GROUP BY 1, 2"), {"company": COMPANY}).all()
    assert len(raw) == 4 and sum(row[2] for row in raw) == 7
    assert {(p, m) for p, m, *_ in raw} >= {("anthropic", "claude-sonnet-4-5"), ("openai", "metrics-test-unknown-model")}
    for provider, model, count, failed, unpriced, cost in raw:
        series = {"provider": provider, "model": model}
        assert delta(after, before, "llm_ledger_stored_calls", **series) == count
        assert delta(after, before, "llm_ledger_stored_failed_calls", **series) == failed
        assert delta(after, before, "llm_ledger_stored_unpriced_calls", **series) == unpriced
        assert delta(after, before, "llm_ledger_stored_cost_usd", **series) == pytest.approx(float(cost), rel=1e-9)
    assert total(after, "llm_ledger_stored_unpriced_calls") - total(before, "llm_ledger_stored_unpriced_calls") == 2
    assert total(after, "llm_ledger_stored_cost_usd") - total(before, "llm_ledger_stored_cost_usd") == pytest.approx(
        float(sum(row[5] for row in raw)), rel=1e-9)
    assert all(cost > 0 for provider, model, _, _, unpriced, cost in raw if not unpriced)


def test_metrics_need_a_read_key_that_spans_every_company(app, make_client):
    anonymous = app.test_client().get("/metrics")
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    company_key = make_client("acme", "ingest,read,admin").get("/metrics")
    assert company_key.status_code == 403 and "every company" in company_key.json["message"]
    assert make_client(None, "ingest").get("/metrics").status_code == 403
    assert make_client(None, "read").get("/metrics").status_code == 200


def test_the_metrics_are_not_in_the_api_document(client):
    assert "/metrics" not in client.get("/openapi.json").json["paths"]


def test_past_the_busiest_models_the_rest_are_summed_under_other(client, session):
    models = ["metrics-busiest", "metrics-busiest", "metrics-busiest", "metrics-second", "metrics-third"]
    assert client.post("/api/calls/batch", json={"calls": [a_call(m) for m in models]}).status_code == 200
    every = stored.read(session, most=10_000)
    bounded = stored.read(session, most=1)
    assert len(bounded.models) == 2 and bounded.models[-1].provider == bounded.models[-1].model == stored.OTHER
    assert bounded.models[0] == every.models[0]  # the busiest pair, named
    for measure in ("calls", "failed", "unpriced", "cost"):
        assert sum(getattr(row, measure) for row in bounded.models) == sum(getattr(row, measure) for row in every.models)
    named = {(row.provider, row.model): row.calls for row in every.models}
    assert named[("openai", "metrics-busiest")] - named.get(("openai", "metrics-third"), 0) >= 2


def test_the_database_is_read_at_most_once_per_ttl(session):
    clock = Clock()
    reads = []

    def read() -> stored.Stored:
        reads.append(stored.read(session))
        return reads[-1]

    cached = stored.Cached(5.0, clock=lambda: clock.now.timestamp())
    first = cached.get(read)
    clock.now += timedelta(seconds=4.9)
    assert cached.get(read) is first and len(reads) == 1
    clock.now += timedelta(seconds=0.1)
    assert cached.get(read) is not first and len(reads) == 2


SECRET = "metrics-secret"


def test_alert_deliveries_and_the_outbox(client, session_factory):
    receiver = Receiver()  # not listening yet: the first delivery fails
    try:
        before = scrape(client)
        budget(client, limit="0.0075", thresholds=[100], webhookUrl=receiver.url)
        budget(client, limit="0.0075", thresholds=[100])  # no webhook of its own, and no default
        call(client)  # $0.0075: both cross 100%
        crossed = scrape(client)
        assert delta(crossed, before, "llm_ledger_alerts", state="pending") == 2

        clock = Clock()
        deliverer = Deliverer(session_factory, secret=SECRET, clock=clock)
        done = deliverer.deliver_due()
        assert (done.failed, done.no_webhook) == (1, 1)
        tried = scrape(client)
        deliveries = "llm_ledger_alert_deliveries_total"
        assert delta(tried, before, deliveries, outcome="failed") == 1
        assert delta(tried, before, deliveries, outcome="no_webhook") == 1
        assert delta(tried, before, deliveries, outcome="delivered") == 0
        assert {state: delta(tried, before, "llm_ledger_alerts", state=state)
                for state in stored.ALERT_STATES} == {"pending": 0, "retrying": 1, "delivered": 0, "no_webhook": 1}
        assert value(tried, "llm_ledger_alerts_oldest_undelivered_seconds") > 0

        receiver.start()
        clock.now += timedelta(hours=1)
        assert deliverer.deliver_due().delivered == 1 and len(receiver.received) == 1
        back = scrape(client)
        assert delta(back, before, deliveries, outcome="delivered") == 1
        assert delta(back, before, deliveries, outcome="failed") == 1
        assert {state: delta(back, before, "llm_ledger_alerts", state=state)
                for state in stored.ALERT_STATES} == {"pending": 0, "retrying": 0, "delivered": 1, "no_webhook": 1}
    finally:
        receiver.stop()


def test_the_gunicorn_master_does_not_import_prometheus_client():
    """prometheus_client chooses its multiprocess mode when first imported: the master imports the
    gunicorn settings (and so the `app` package) before on_starting sets PROMETHEUS_MULTIPROC_DIR."""
    code = "import sys, app.gunicorn_conf; sys.exit('prometheus_client' in sys.modules)"
    env = {k: v for k, v in os.environ.items() if k != multiprocess.ENV}
    assert subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env).returncode == 0


def test_metrics_refuse_a_multiprocess_directory_set_too_late(tmp_path):
    """Set after prometheus_client's import (gunicorn --preload), each worker would count in memory
    and scrapes would sum files nobody writes: refused, saying why."""
    code = ("import os, prometheus_client; os.environ['PROMETHEUS_MULTIPROC_DIR'] = os.getcwd(); "
            "from app.metrics import exposition; exposition.check_mode()")
    env = {k: v for k, v in os.environ.items() if k != multiprocess.ENV} | {"PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "set after prometheus_client was imported" in done.stderr


def test_the_multiprocess_directory_starts_empty(tmp_path):
    named = tmp_path / "named"
    named.mkdir()
    (named / "counter_1.db").write_bytes(b"a previous run")
    (named / "notes.txt").write_text("not ours")
    environ = {multiprocess.ENV: str(named)}
    assert multiprocess.prepare(environ) == named
    assert sorted(p.name for p in named.iterdir()) == ["notes.txt"]  # only the metric files go

    environ = {}
    made = multiprocess.prepare(environ)
    try:
        assert environ[multiprocess.ENV] == str(made) and made.is_dir() and not any(made.iterdir())
    finally:
        multiprocess.cleanup()
    assert not made.exists()


# --- A real gunicorn with 3 workers ----------------------------------------------------------------

SERVED = "metrics-gunicorn-test"
MODEL = "metrics-gunicorn-model"  # unknown to the catalog: unpriced, and a series of this test only
WORKERS, CLIENTS, SINGLES_EACH, BATCHES_EACH, BATCH_CALLS = 3, 8, 15, 2, 5


def http_request(port: int, method: str, path: str, key: str, body: dict | None = None) -> tuple[int, bytes]:
    """One request on a connection of its own (closed after it): the next may reach another worker."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        headers = {"Authorization": f"Bearer {key}", "Connection": "close"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture
def served(database_url, engine, tmp_path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    (directory / "counter_1.db").write_bytes(b"\x00" * 16)  # a previous run's leftovers: emptied at start
    with Session(engine) as session:
        key = create_key(session, name="metrics gunicorn test", company_id=None, scopes="ingest,read").secret
        session.commit()
    try:
        with partitions_restored(engine):
            try:
                env = {multiprocess.ENV: str(directory), "ALERT_DELIVERY": "off"}
                with serve(database_url, workers=WORKERS, log_path=tmp_path / "gunicorn.log", env=env) as (_, port, _):
                    yield port, key, directory
            finally:
                delete_company(engine, SERVED)
    finally:
        with engine.begin() as conn:
            conn.execute(delete(ApiKey).where(ApiKey.name == "metrics gunicorn test"))


def test_counters_are_exact_across_three_gunicorn_workers(served):
    port, key, directory = served

    def client(n: int) -> list[int]:
        retry = a_call(MODEL, companyId=SERVED, requestId=f"metrics-{n}")
        statuses = [http_request(port, "POST", "/api/calls", key, retry)[0]]
        statuses += [http_request(port, "POST", "/api/calls", key, a_call(MODEL, companyId=SERVED))[0]
                     for _ in range(SINGLES_EACH - 1)]
        statuses += [http_request(port, "POST", "/api/calls", key, retry)[0]]  # the duplicate
        statuses += [http_request(port, "POST", "/api/calls/batch", key,
                                  {"calls": [a_call(MODEL, companyId=SERVED) for _ in range(BATCH_CALLS)]})[0]
                     for _ in range(BATCHES_EACH)]
        return statuses

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        statuses = [status for answers in pool.map(client, range(CLIENTS)) for status in answers]
    stored_calls = CLIENTS * (SINGLES_EACH + BATCHES_EACH * BATCH_CALLS)
    requests = CLIENTS * (SINGLES_EACH + 1 + BATCHES_EACH)
    assert sorted(statuses) == sorted(([201] * SINGLES_EACH + [200] + [200] * BATCHES_EACH) * CLIENTS)

    # Each worker counted its own share: more than one served ingest requests.
    served_by = [total(parse_families(MultiProcessCollector.merge([str(path)])), "llm_ledger_ingest_requests_total")
                 for path in directory.glob("counter_*.db")]
    assert len(served_by) >= WORKERS and sum(count > 0 for count in served_by) >= 2, served_by

    for _ in range(6):  # whichever worker answers, the sums are every worker's
        status, body = http_request(port, "GET", "/metrics", key)
        assert status == 200, body
        samples = parse(body.decode())
        assert total(samples, "llm_ledger_ingest_calls_total", outcome="stored") == stored_calls
        assert total(samples, "llm_ledger_ingest_calls_total", outcome="duplicate") == CLIENTS
        assert total(samples, "llm_ledger_ingest_requests_total") == requests
        assert total(samples, "llm_ledger_ingest_requests_total", endpoint="batch", code="200") == CLIENTS * BATCHES_EACH
        latency = "llm_ledger_ingest_request_duration_seconds"
        assert total(samples, latency + "_count") == requests
        assert total(samples, latency + "_bucket", le="+Inf") == requests
        assert value(samples, "llm_ledger_stored_calls", provider="openai", model=MODEL) == stored_calls
        assert value(samples, "llm_ledger_stored_unpriced_calls", provider="openai", model=MODEL) == stored_calls
