"""What each process counts as it works: ingest requests, the calls they carried, their latency,
and alert deliveries — prometheus_client counters and a histogram, one set per process.

Under gunicorn, prometheus_client's multiprocess mode keeps each process's values in a file of its
own in ``PROMETHEUS_MULTIPROC_DIR`` and a scrape sums the files of every worker, dead ones
included (:mod:`app.metrics.exposition`), so counters never go back when a worker is replaced. The
mode is chosen when prometheus_client is first imported: the variable must be set before that
(:mod:`app.metrics.multiprocess`). Without it (the Flask test client, the flask CLI) values live
in this process, in :data:`PROCESS`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics

# No `_created` series: multiprocess mode has none, and the answer is the same in both modes.
disable_created_metrics()

NAMESPACE = "llm_ledger"
# This process's instruments, apart from prometheus_client's default registry (whose process and
# garbage-collector metrics do not exist in multiprocess mode: the answer is the same in both).
PROCESS = CollectorRegistry()

INGEST_ENDPOINTS = ("single", "batch", "otlp")  # POST /api/calls, POST /api/calls/batch, POST /v1/traces
CALL_OUTCOMES = ("stored", "duplicate")
DELIVERY_OUTCOMES = ("delivered", "failed", "no_webhook")  # app.alerts.delivery's outcomes
# About 1 ms to 10 s: a single call written with its group takes milliseconds, a 10,000-call
# batch seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

INGEST_REQUESTS = Counter(
    "ingest_requests", "Ingest requests answered, by endpoint (single, batch, otlp) and HTTP status code.",
    ("endpoint", "code"), namespace=NAMESPACE, registry=PROCESS)
INGEST_CALLS = Counter(
    "ingest_calls", "Calls in successful ingest answers: stored (new) or duplicate (a retry of a stored "
    "requestId, not stored again).", ("endpoint", "outcome"), namespace=NAMESPACE, registry=PROCESS)
INGEST_SECONDS = Histogram(
    "ingest_request_duration_seconds", "Time from an ingest request's arrival in the app to its answer, "
    "every status included.", ("endpoint",), namespace=NAMESPACE, registry=PROCESS, buckets=LATENCY_BUCKETS)
ALERT_DELIVERIES = Counter(
    "alert_deliveries", "Budget alert delivery attempts, by outcome: delivered (the webhook answered 2xx), "
    "failed (retried later), no_webhook (nowhere to send it).", ("outcome",), namespace=NAMESPACE,
    registry=PROCESS)

# Every series that can be named in advance exists from the start, at 0: a rate over a series that
# appears only with its first event misses that event.
for _endpoint in INGEST_ENDPOINTS:
    INGEST_SECONDS.labels(_endpoint)
    for _outcome in CALL_OUTCOMES:
        INGEST_CALLS.labels(_endpoint, _outcome)
for _outcome in DELIVERY_OUTCOMES:
    ALERT_DELIVERIES.labels(_outcome)


def ingest_request(endpoint: str, code: str, seconds: float) -> None:
    """One ingest request answered `code` after `seconds`."""
    INGEST_REQUESTS.labels(endpoint, code).inc()
    INGEST_SECONDS.labels(endpoint).observe(seconds)


def ingest_calls(endpoint: str, *, stored: int, duplicates: int) -> None:
    """The calls of one successful ingest answer."""
    if stored:
        INGEST_CALLS.labels(endpoint, "stored").inc(stored)
    if duplicates:
        INGEST_CALLS.labels(endpoint, "duplicate").inc(duplicates)


def alert_delivery(outcome: str) -> None:
    """One delivery attempt's recorded outcome (one of :data:`DELIVERY_OUTCOMES`)."""
    ALERT_DELIVERIES.labels(outcome).inc()
