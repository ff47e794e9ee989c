"""Keeping `llm_call_daily` exactly in step with `llm_call_log`.

Every write to the log changes the rollup in the same transaction:

- ingest: :func:`upsert_sql` sums the rows just inserted (the RETURNING of the insert, in the
  same statement) per rollup key and adds them to the rollup rows, creating missing ones;
- repricing: :func:`apply_cost_changes` adds the difference between new and old costs;
- repair or bulk loads: :func:`rebuild` recomputes a range of days from the raw rows.

Rows are added in key order, so concurrent writers lock rollup rows in the same order and never
deadlock; ``ON CONFLICT … DO UPDATE`` makes concurrent additions to one row serialise instead of
losing updates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.models import CallDaily
from app.models.rollups import COST_SUMS, DIMENSIONS, TOKEN_SUMS

KEY_COLUMNS = DIMENSIONS[1:]  # the dimensions other than the day, as columns of the call log
# Rollup column → the aggregate of the call log's rows that feeds it.
AGGREGATES = {
    "assistant_name": "(array_agg(assistant_name ORDER BY timestamp DESC) "
                      "FILTER (WHERE assistant_name IS NOT NULL))[1]",
    "calls": "count(*)",
    "unpriced_calls": "count(*) FILTER (WHERE price_id IS NULL)",
    **{name: f"sum({name})" for name in TOKEN_SUMS},
    **{name: f"coalesce(sum({name}), 0)" for name in COST_SUMS},
    "duration_ms_sum": "coalesce(sum(duration_ms), 0)",
    "timed_calls": "count(duration_ms)",
}
ADDITIVE = [name for name in AGGREGATES if name != "assistant_name"]
# The columns of the call log the aggregates read (what an insert must RETURN to feed them).
SOURCE_COLUMNS = ("timestamp", *KEY_COLUMNS, "assistant_name", "price_id", *TOKEN_SUMS, *COST_SUMS, "duration_ms")


def upsert_sql(source: str) -> str:
    """SQL adding the calls of `source` (a relation with the call log's columns) to the rollup."""
    keys = ", ".join(KEY_COLUMNS)
    positions = ", ".join(str(n) for n in range(1, len(DIMENSIONS) + 1))
    updates = ", ".join(f"{name} = llm_call_daily.{name} + EXCLUDED.{name}" for name in ADDITIVE)
    return (
        f"INSERT INTO llm_call_daily (day, {keys}, {', '.join(AGGREGATES)}) "
        f"SELECT (timezone('UTC', timestamp))::date, {keys}, {', '.join(AGGREGATES.values())} "
        f"FROM {source} GROUP BY {positions} ORDER BY {positions} "
        f"ON CONFLICT ON CONSTRAINT uq_llm_call_daily_key DO UPDATE SET {updates}, "
        f"assistant_name = coalesce(EXCLUDED.assistant_name, llm_call_daily.assistant_name)"
    )


@dataclass(frozen=True)
class CostChange:
    """A repriced call's effect on its rollup row: new minus old."""

    key: tuple  # DIMENSIONS values
    unpriced_calls: int
    input_cost: Decimal
    output_cost: Decimal
    total_cost: Decimal


def rollup_key(row) -> tuple:
    """The rollup key of a call (anything with the call log's columns)."""
    return (row.timestamp.astimezone(UTC).date(), *(getattr(row, name) for name in KEY_COLUMNS))


def apply_cost_changes(session: Session, changes: Iterable[CostChange]) -> None:
    totals: dict[tuple, list] = {}
    for change in changes:
        total = totals.setdefault(change.key, [0, Decimal(0), Decimal(0), Decimal(0)])
        for index, value in enumerate((change.unpriced_calls, change.input_cost, change.output_cost,
                                       change.total_cost)):
            total[index] += value
    if not totals:
        return
    fields = ("unpriced_calls", *COST_SUMS)
    values = [dict(zip(DIMENSIONS, key, strict=True)) | dict(zip(fields, total, strict=True))
              for key, total in sorted(totals.items(), key=lambda item: _sortable(item[0]))]
    stmt = insert(CallDaily).values(values)
    stmt = stmt.on_conflict_do_update(
        constraint="uq_llm_call_daily_key",
        set_={name: getattr(CallDaily, name) + stmt.excluded[name] for name in fields},
    )
    session.execute(stmt)


def _sortable(key: tuple) -> tuple:
    # NULL dimensions sort last, as PostgreSQL's ORDER BY does.
    return tuple((value is None, value if value is not None else "") for value in key)


@dataclass(frozen=True)
class RebuildResult:
    first_day: date | None
    last_day: date | None
    rows: int


def rebuild(session: Session, first_day: date | None = None, last_day: date | None = None) -> RebuildResult:
    """Recompute the rollup for [first_day, last_day] from the raw calls.

    Defaults to the days the raw calls cover, so days whose raw partitions were dropped under the
    retention policy keep their rollup history.
    """
    if first_day is None or last_day is None:
        low, high = session.execute(text(
            "SELECT min(timestamp), max(timestamp) FROM llm_call_log")).one()
        if low is None:
            return RebuildResult(None, None, 0)
        first_day = first_day or low.astimezone(UTC).date()
        last_day = last_day or high.astimezone(UTC).date()
    bounds = {"first": first_day, "last": last_day,
              "start": datetime.combine(first_day, time.min, tzinfo=UTC),
              "end": datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=UTC)}
    session.execute(text("DELETE FROM llm_call_daily WHERE day BETWEEN :first AND :last"), bounds)
    session.execute(text(upsert_sql(
        "(SELECT * FROM llm_call_log WHERE timestamp >= :start AND timestamp < :end) AS calls")), bounds)
    rows = session.execute(text("SELECT count(*) FROM llm_call_daily WHERE day BETWEEN :first AND :last"),
                           bounds).scalar_one()
    return RebuildResult(first_day, last_day, rows)
