"""One scrape's answer in Prometheus's text format: this service's counters — summed over every
gunicorn worker in multiprocess mode, else this process's — and the database's totals.

Prometheus samples are floats: a cost of $123,456.000000000000000001 is sent as 123456.0. That is
fine for graphs and alerts; exact money is the API's (decimal strings).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, values
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from app.metrics import instruments
from app.metrics.multiprocess import ENV
from app.metrics.stored import MAX_MODELS, OTHER, Stored

CONTENT_TYPE = CONTENT_TYPE_LATEST  # text/plain; version=0.0.4
_NAME = instruments.NAMESPACE + "_"


def check_mode() -> None:
    """Refuse to start, or to answer, when PROMETHEUS_MULTIPROC_DIR is set but prometheus_client
    was imported before it was (e.g. gunicorn's --preload imports the app before on_starting): each
    worker would count in memory, and the scrape would sum files nobody writes."""
    if os.environ.get(ENV) and not getattr(values.ValueClass, "_multiprocess", False):
        raise RuntimeError(f"{ENV} was set after prometheus_client was imported: set it before "
                           "(app/gunicorn_conf.py does, in on_starting)")


def render(stored: Stored) -> bytes:
    check_mode()
    return generate_latest(_Scrape(stored))  # type: ignore[arg-type] - any object with collect()


class _Scrape:
    def __init__(self, stored: Stored) -> None:
        self._stored = stored

    def collect(self) -> Iterator[Metric]:
        directory = os.environ.get(ENV)
        if directory:
            yield from MultiProcessCollector(None, directory).collect()  # every worker's files, summed
        else:
            yield from instruments.PROCESS.collect()
        yield from _stored_families(self._stored)


def _stored_families(stored: Stored) -> Iterable[Metric]:
    labels = ["provider", "model"]
    calls = GaugeMetricFamily(_NAME + "stored_calls", "Calls recorded, ever (from the rollups), by canonical "
                              f"provider and model; past the busiest {MAX_MODELS} pairs, the rest under {OTHER}.",
                              labels=labels)
    failed = GaugeMetricFamily(_NAME + "stored_failed_calls", "Recorded calls whose LLM call failed "
                               "(success false).", labels=labels)
    unpriced = GaugeMetricFamily(_NAME + "stored_unpriced_calls", "Recorded calls without a cost: no price "
                                 "known for them yet (`flask costs reprice` prices them).", labels=labels)
    cost = GaugeMetricFamily(_NAME + "stored_cost_usd", "Cost of the recorded priced calls, in US dollars, as a "
                             "float (exact money: the API).", labels=labels)
    for row in stored.models:
        key = [row.provider, row.model]
        calls.add_metric(key, row.calls)
        failed.add_metric(key, row.failed)
        unpriced.add_metric(key, row.unpriced)
        cost.add_metric(key, float(row.cost))
    alerts = GaugeMetricFamily(_NAME + "alerts", "Budget alerts in the delivery outbox, by state: pending (not "
                               "tried yet), retrying (failed at least once; retried until delivered), delivered, "
                               "no_webhook.", labels=["state"])
    for state, count in stored.alerts.items():
        alerts.add_metric([state], count)
    oldest = GaugeMetricFamily(_NAME + "alerts_oldest_undelivered_seconds", "Age of the oldest pending or "
                               "retrying alert; 0 when every alert is delivered.",
                               value=stored.oldest_undelivered_seconds)
    return calls, failed, unpriced, cost, alerts, oldest
