"""Keeping the rollups (`llm_call_daily`, `llm_call_daily_model`, `llm_call_daily_user`,
`llm_call_hourly`) exactly in
step with `llm_call_log`.

Every write to the log changes the rollup in the same transaction:

- ingest: :func:`upsert_sql` sums the rows just inserted (the RETURNING of the insert, in the
  same statement) per rollup key and adds them to the rollup rows, creating missing ones — for
  each of the three rollups (:data:`ROLLUPS`);
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
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.models import CallDaily, CallDailyModel, CallDailyUser, CallHourly
from app.models.rollups import COST_SUMS, DIMENSIONS, TOKEN_SUMS

KEY_COLUMNS = DIMENSIONS[1:]  # the dimensions other than the day, as columns of the call log
# Rollup column → the aggregate of the call log's rows that feeds it.
MEASURES = {
    "calls": "count(*)",
    "unpriced_calls": "count(*) FILTER (WHERE price_id IS NULL)",
    **{name: f"sum({name})" for name in TOKEN_SUMS},
    **{name: f"coalesce(sum({name}), 0)" for name in COST_SUMS},
    "duration_ms_sum": "coalesce(sum(duration_ms), 0)",
    "timed_calls": "count(duration_ms)",
}
LATEST_NAME = "(array_agg(assistant_name ORDER BY timestamp DESC) FILTER (WHERE assistant_name IS NOT NULL))[1]"
# The columns of the call log the aggregates read (what an insert must RETURN to feed them).
SOURCE_COLUMNS = ("timestamp", *KEY_COLUMNS, "assistant_name", "price_id", *TOKEN_SUMS, *COST_SUMS, "duration_ms")


@dataclass(frozen=True)
class Rollup:
    """One rollup table: a time bucket of the call's timestamp, the dimensions it keeps."""

    model: type
    bucket: str  # the bucket column: "day" or "hour"
    keys: tuple[str, ...]  # other dimensions, columns of the call log

    @property
    def table(self) -> str:
        return self.model.__tablename__

    @property
    def bucket_sql(self) -> str:
        if self.bucket == "day":
            return "(timezone('UTC', timestamp))::date"
        return "date_trunc('hour', timestamp, 'UTC')"

    def bucket_of(self, moment: datetime) -> date | datetime:
        moment = moment.astimezone(UTC)
        return moment.date() if self.bucket == "day" else moment.replace(minute=0, second=0, microsecond=0)

    def key_of(self, row) -> tuple:
        return (self.bucket_of(row.timestamp), *(getattr(row, name) for name in self.keys))

    @property
    def names_assistants(self) -> bool:
        return "assistant_id" in self.keys


DAILY = Rollup(CallDaily, "day", KEY_COLUMNS)
DAILY_MODEL = Rollup(CallDailyModel, "day", tuple(name for name in KEY_COLUMNS if name != "user_id"))
DAILY_USER = Rollup(CallDailyUser, "day", ("company_id", "user_id", "success"))
HOURLY = Rollup(CallHourly, "hour", ("company_id",))
ROLLUPS = (DAILY, DAILY_MODEL, DAILY_USER, HOURLY)


def rollup_tables() -> list[str]:
    """Every rollup table's name (for row counts and maintenance)."""
    return [rollup.table for rollup in ROLLUPS]


def upsert_sql(rollup: Rollup, source: str) -> str:
    """SQL adding the calls of `source` (a relation with the call log's columns) to `rollup`."""
    keys = ", ".join((rollup.bucket, *rollup.keys))
    measures = dict(MEASURES) | ({"assistant_name": LATEST_NAME} if rollup.names_assistants else {})
    positions = ", ".join(str(n) for n in range(1, len(rollup.keys) + 2))
    updates = [f"{name} = {rollup.table}.{name} + EXCLUDED.{name}" for name in MEASURES]
    if rollup.names_assistants:
        updates.append(f"assistant_name = coalesce(EXCLUDED.assistant_name, {rollup.table}.assistant_name)")
    return (
        f"INSERT INTO {rollup.table} ({keys}, {', '.join(measures)}) "
        f"SELECT {rollup.bucket_sql}, {', '.join(rollup.keys)}, {', '.join(measures.values())} "
        f"FROM {source} GROUP BY {positions} ORDER BY {positions} "
        f"ON CONFLICT ON CONSTRAINT uq_{rollup.table}_key DO UPDATE SET {', '.join(updates)}"
    )


@dataclass(frozen=True)
class CostChange:
    """A repriced call's effect on the rollups: new minus old, for the call `row`."""

    row: Any  # anything with the call log's columns (timestamp and the dimensions)
    unpriced_calls: int
    input_cost: Decimal
    output_cost: Decimal
    total_cost: Decimal


_CHANGED = ("unpriced_calls", *COST_SUMS)


def apply_cost_changes(session: Session, changes: Iterable[CostChange]) -> None:
    """Add repricing differences to every rollup, in key order (as ingest does)."""
    changes = list(changes)
    for rollup in ROLLUPS:
        totals: dict[tuple, list] = {}
        for change in changes:
            total = totals.setdefault(rollup.key_of(change.row), [0, Decimal(0), Decimal(0), Decimal(0)])
            for index, name in enumerate(_CHANGED):
                total[index] += getattr(change, name)
        if not totals:
            continue
        columns = (rollup.bucket, *rollup.keys)
        values = [dict(zip(columns, key, strict=True)) | dict(zip(_CHANGED, total, strict=True))
                  for key, total in sorted(totals.items(), key=lambda item: _sortable(item[0]))]
        stmt = insert(rollup.model).values(values)
        stmt = stmt.on_conflict_do_update(
            constraint=f"uq_{rollup.table}_key",
            set_={name: getattr(rollup.model, name) + stmt.excluded[name] for name in _CHANGED},
        )
        session.execute(stmt)


def _sortable(key: tuple) -> tuple:
    # NULL dimensions sort last, as PostgreSQL's ORDER BY does.
    return tuple((value is None, value if value is not None else "") for value in key)


@dataclass(frozen=True)
class RebuildResult:
    first_day: date | None
    last_day: date | None
    rows: int  # rows of the full-grain daily rollup in the range


def rebuild(session: Session, first_day: date | None = None, last_day: date | None = None) -> RebuildResult:
    """Recompute every rollup for [first_day, last_day] from the raw calls.

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
    for rollup in ROLLUPS:
        where = ("day BETWEEN :first AND :last" if rollup.bucket == "day"
                 else "hour >= :start AND hour < :end")
        session.execute(text(f"DELETE FROM {rollup.table} WHERE {where}"), bounds)
        session.execute(text(upsert_sql(
            rollup, "(SELECT * FROM llm_call_log WHERE timestamp >= :start AND timestamp < :end) AS calls")), bounds)
    rows = session.execute(text("SELECT count(*) FROM llm_call_daily WHERE day BETWEEN :first AND :last"),
                           bounds).scalar_one()
    return RebuildResult(first_day, last_day, rows)
