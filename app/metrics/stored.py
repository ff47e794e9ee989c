"""What the database says at scrape time: calls, cost, unpriced and failed calls by provider and
model, and budget alerts in the delivery outbox — every query of ``GET /metrics``, here.

The database is the truth whatever the number of processes, so these are read, not counted:
each scrape (at most once per `ttl` seconds per process, :class:`Cached`) sums the month rows of
the model rollup (``rollup_model_month``: months × companies × models, never the call log) and
counts the outbox (``budget_alert``). The rollups keep the history of raw months dropped after
retention, so the totals are of every call ever recorded.

Label cardinality is bounded: models are their canonical names (:mod:`app.pricing.catalog`),
and past the `most` busiest (provider, model) pairs the rest are summed under ``(other)``.
Money is exact `Decimal` here; it becomes a float only in the exposition.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.ledger.rollup_tables import MODEL, MONTH
from app.models.alerts import DELIVERY_STATES

MAX_MODELS = 500  # (provider, model) series named; the rest are summed under OTHER
OTHER = "(other)"
# The outbox's states as metrics name them: `pending` rows that failed at least once are `retrying`.
ALERT_STATES = ("pending", "retrying", *(state for state in DELIVERY_STATES if state != "pending"))
# A scrape that cannot be answered in this time is refused rather than left holding a connection.
STATEMENT_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class ModelTotals:
    provider: str
    model: str
    calls: int
    failed: int
    unpriced: int
    cost: Decimal  # of the priced calls (unpriced ones add nothing)


@dataclass(frozen=True)
class Stored:
    models: tuple[ModelTotals, ...]  # the busiest first; OTHER (if any) last
    alerts: dict[str, int]  # every state of ALERT_STATES, zero-filled
    oldest_undelivered_seconds: float  # age of the oldest pending or retrying alert; 0 when none


_MODELS = f"""
WITH per_model AS (
    SELECT provider, model, sum(calls) AS calls, sum(failed_calls) AS failed,
           sum(unpriced_calls) AS unpriced, coalesce(sum(total_cost), 0) AS cost
    FROM {MODEL.table(MONTH)}
    GROUP BY provider, model
), ranked AS (
    SELECT *, row_number() OVER (ORDER BY calls DESC, provider, model) AS rank FROM per_model
)
SELECT CASE WHEN rank <= :most THEN provider ELSE :other END AS provider,
       CASE WHEN rank <= :most THEN model ELSE :other END AS model,
       sum(calls)::bigint, sum(failed)::bigint, sum(unpriced)::bigint, sum(cost), min(rank) AS first
FROM ranked
GROUP BY 1, 2
ORDER BY first
"""

_ALERTS = """
SELECT CASE WHEN delivery = 'pending' AND attempts > 0 THEN 'retrying' ELSE delivery END AS state,
       count(*),
       extract(epoch FROM clock_timestamp() - min(created_at)) AS oldest_seconds
FROM budget_alert
GROUP BY 1
"""


def read(session: Session, *, most: int = MAX_MODELS) -> Stored:
    """The database's totals now (two statements in `session`'s transaction)."""
    session.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
    models = tuple(ModelTotals(provider, model, calls, failed, unpriced, cost)
                   for provider, model, calls, failed, unpriced, cost, _ in
                   session.execute(text(_MODELS), {"most": most, "other": OTHER}))
    alerts = dict.fromkeys(ALERT_STATES, 0)
    oldest = 0.0
    for state, count, oldest_seconds in session.execute(text(_ALERTS)):
        alerts[state] = count
        if state in ("pending", "retrying"):
            oldest = max(oldest, float(oldest_seconds))
    return Stored(models, alerts, oldest)


class Cached:
    """The latest :class:`Stored`, read again once it is `ttl` seconds old: however often a
    process is scraped, it asks the database at most once per `ttl`. Scrapes that arrive during a
    read wait for it and share it; a read that fails is not kept."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._value: Stored | None = None
        self._read_at = 0.0

    def get(self, read: Callable[[], Stored]) -> Stored:
        with self._lock:
            if self._value is None or self._clock() - self._read_at >= self._ttl:
                self._value = read()
                self._read_at = self._clock()
            return self._value
