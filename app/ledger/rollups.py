"""Keeping every rollup (:mod:`app.ledger.rollup_tables`) exactly in step with `llm_call_log`.

Every write to the log changes the rollups in the same transaction:

- ingest: :func:`upsert_sql` sums the rows just inserted (the RETURNING of the insert, in the
  same statement) per bucket and rollup key and adds them to the rollup rows, creating missing
  ones — for every rollup at every grain;
- repricing: :func:`apply_cost_changes` adds the difference between new and old costs;
- repair or bulk loads: :func:`rebuild` recomputes a range of days from the raw rows, and the
  months that range touches from the day rows.

A month row is always the sum of its day rows (both are written by the same statements), so day
rows keep the history of months whose raw calls were dropped and months can be recomputed from
them. Rows are added in key order, so concurrent writers lock rollup rows in the same order and
never deadlock; ``ON CONFLICT … DO UPDATE`` makes concurrent additions to one row serialise
instead of losing updates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.ledger.rollup_tables import (  # noqa: F401 (rollup_tables: re-exported for maintenance tools)
    COST_SUMS, DAY, DIMENSIONS, HOUR, MEASURES, MONTH, PROMOTED_SOURCE, ROLLUPS, Grain, Rollup, at_grain,
    rollup_tables)
from app.token_types import TOKEN_SUMS

# Rollup measure → the aggregate of the call log's rows that feeds it.
AGGREGATES = {
    "calls": "count(*)",
    "failed_calls": "count(*) FILTER (WHERE NOT success)",
    "unpriced_calls": "count(*) FILTER (WHERE price_id IS NULL)",
    **{name: f"sum({name})" for name in TOKEN_SUMS},
    **{name: f"coalesce(sum({name}), 0)" for name in COST_SUMS},
    "duration_ms_sum": "coalesce(sum(duration_ms), 0)",
    "timed_calls": "count(duration_ms)",
}
assert tuple(AGGREGATES) == MEASURES
LATEST_NAME = "(array_agg(assistant_name ORDER BY timestamp DESC) FILTER (WHERE assistant_name IS NOT NULL))[1]"
# The columns of the call log the aggregates read (what an insert must RETURN to feed them).
SOURCE_COLUMNS = ("timestamp", "company_id", "success", "user_id", "assistant_id", "endpoint", "canonical_provider",
                  "canonical_model", "metadata", "assistant_name", "price_id", *TOKEN_SUMS, *COST_SUMS, "duration_ms")


def source_of(column: str) -> str:
    """The SQL of a rollup key column for a call-log row (``model`` ← ``canonical_model``)."""
    return DIMENSIONS[column].source if column in DIMENSIONS else column


def grains() -> list[tuple[Rollup, Grain]]:
    """Every rollup table, as (rollup, grain)."""
    return [(rollup, grain) for rollup in ROLLUPS for grain in rollup.grains]


def upsert_sql(rollup: Rollup, grain: Grain, source: str, where: str = "") -> str:
    """SQL adding the calls of `source` (a relation with the call log's columns) to one rollup table;
    the promoted-dimension rollup sums each call once per promoted key (`where` may narrow them)."""
    table = rollup.table(grain)
    keys = ", ".join((grain.name, *rollup.key))
    measures = ({name: AGGREGATES[name] for name in rollup.measures}
                | ({"assistant_name": LATEST_NAME} if rollup.names_assistants else {}))
    positions = ", ".join(str(n) for n in range(1, len(rollup.key) + 2))
    updates = [f"{name} = {table}.{name} + EXCLUDED.{name}" for name in rollup.measures]
    if rollup.names_assistants:
        updates.append(f"assistant_name = coalesce(EXCLUDED.assistant_name, {table}.assistant_name)")
    return (
        f"INSERT INTO {table} ({keys}, {', '.join(measures)}) "
        f"SELECT {grain.sql}, {', '.join(source_of(k) for k in rollup.key)}, {', '.join(measures.values())} "
        f"FROM {source} {PROMOTED_SOURCE if rollup.promoted else ''} {where} GROUP BY {positions} ORDER BY {positions} "
        f"ON CONFLICT ON CONSTRAINT uq_{table}_key DO UPDATE SET {', '.join(updates)}"
    )


# Coarser grains summed from finer ones in the ingest statement: hours → days → months.
_FINER = {DAY: HOUR, MONTH: DAY}
_COARSER = {DAY: "(timezone('UTC', hour))::date", MONTH: "(date_trunc('month', day))::date"}
LATEST_NAME_OF_BUCKETS = ("(array_agg(assistant_name ORDER BY {bucket} DESC) "
                          "FILTER (WHERE assistant_name IS NOT NULL))[1]")


def ingest_ctes(source: str) -> list[str]:
    """Named CTEs that add the calls of `source` (the rows an insert returned) to every rollup
    table. Each rollup's calls are summed once from the source at its finest grain; coarser
    grains are summed from those sums (a month from its days, a day from its hours), and where a
    rollup has no table at the finer grain, from the sums of the smallest rollup that has one
    (user months from user_model days). Each sum is then added to its table in key order."""
    ctes: list[str] = []
    summed: dict[tuple[str, str], str] = {}  # (rollup, grain) → the CTE of its sums

    def sums_of(rollup: Rollup, grain: Grain) -> str:
        if (rollup.name, grain.name) in summed:
            return summed[(rollup.name, grain.name)]
        name = f"sum_{rollup.name}_{grain.name}"
        keys = ", ".join(rollup.key)
        finer = _FINER.get(grain)
        if finer is not None and any(r.has(finer) and r.covers(set(rollup.dimensions)) for r in ROLLUPS):
            lower = at_grain(rollup, finer)
            assert set(rollup.measures) <= set(lower.measures), (rollup.name, lower.name)
            sums = [f"sum({m}) AS {m}" for m in rollup.measures]
            if rollup.names_assistants:
                sums.append(LATEST_NAME_OF_BUCKETS.format(bucket=finer.name) + " AS assistant_name")
            ctes.append(f"{name} AS (SELECT {_COARSER[grain]} AS {grain.name}, {keys}, {', '.join(sums)} "
                        f"FROM {sums_of(lower, finer)} GROUP BY 1, {keys})")
        else:
            measures = ({column: AGGREGATES[column] for column in rollup.measures}
                        | ({"assistant_name": LATEST_NAME} if rollup.names_assistants else {}))
            ctes.append(f"{name} AS (SELECT {grain.sql} AS {grain.name}, "
                        f"{', '.join(f'{source_of(k)} AS {k}' for k in rollup.key)}, "
                        f"{', '.join(f'{sql} AS {column}' for column, sql in measures.items())} "
                        f"FROM {source} {PROMOTED_SOURCE if rollup.promoted else ''} "
                        f"GROUP BY 1, {', '.join(str(n) for n in range(2, len(rollup.key) + 2))})")
        summed[(rollup.name, grain.name)] = name
        return name

    for rollup, grain in grains():
        ctes.append(f"added_{rollup.table(grain)} AS ({_add_sql(rollup, grain, sums_of(rollup, grain))})")
    return ctes


def _add_sql(rollup: Rollup, grain: Grain, sums: str) -> str:
    """Add the rows of `sums` (bucket, key, measures[, name]) to one rollup table, in key order."""
    table = rollup.table(grain)
    columns = [grain.name, *rollup.key, *rollup.measures, *(["assistant_name"] if rollup.names_assistants else [])]
    positions = ", ".join(str(n) for n in range(1, len(rollup.key) + 2))
    updates = [f"{m} = {table}.{m} + EXCLUDED.{m}" for m in rollup.measures]
    if rollup.names_assistants:
        updates.append(f"assistant_name = coalesce(EXCLUDED.assistant_name, {table}.assistant_name)")
    return (f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM {sums} "
            f"ORDER BY {positions} ON CONFLICT ON CONSTRAINT uq_{table}_key DO UPDATE SET {', '.join(updates)}")


def bucket_of(grain: Grain, moment: datetime) -> date | datetime:
    moment = moment.astimezone(UTC)
    if grain is HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    if grain is MONTH:
        return date(moment.year, moment.month, 1)
    return moment.date()


@dataclass(frozen=True)
class CostChange:
    """A repriced call's effect on the rollups: new minus old, for the call `row`."""

    row: Any  # anything with the call log's key columns (timestamp, company_id, user_id, …)
    unpriced_calls: int
    input_cost: Decimal
    output_cost: Decimal
    total_cost: Decimal
    promoted: dict[str, str | None] = field(default_factory=dict)  # promoted key → the call's value

    def keys(self, rollup: Rollup, grain: Grain) -> list[tuple]:
        """The rollup rows (bucket and key) this call counts in."""
        bucket = bucket_of(grain, self.row.timestamp)
        if rollup.promoted:
            return [(bucket, self.row.company_id, key, value) for key, value in self.promoted.items()]
        return [(bucket, *(getattr(self.row, _LOG_COLUMNS.get(k, k)) for k in rollup.key))]


# Rollup key columns whose call-log column has another name.
_LOG_COLUMNS = {name: d.source for name, d in DIMENSIONS.items() if d.source.isidentifier()}


_CHANGED = ("unpriced_calls", *COST_SUMS)


def apply_cost_changes(session: Session, changes: Iterable[CostChange]) -> None:
    """Add repricing differences to every rollup table, in key order (as ingest does)."""
    changes = list(changes)
    for rollup, grain in grains():
        totals: dict[tuple, list] = {}
        for change in changes:
            for key in change.keys(rollup, grain):
                total = totals.setdefault(key, [0, Decimal(0), Decimal(0), Decimal(0)])
                for index, name in enumerate(_CHANGED):
                    total[index] += getattr(change, name)
        if not totals:
            continue
        columns = (grain.name, *rollup.key)
        values = [dict(zip(columns, key, strict=True)) | dict(zip(_CHANGED, total, strict=True))
                  for key, total in sorted(totals.items(), key=lambda item: _sortable(item[0]))]
        model = rollup.model(grain)
        stmt = insert(model).values(values)
        stmt = stmt.on_conflict_do_update(
            constraint=f"uq_{rollup.table(grain)}_key",
            set_={name: getattr(model, name) + stmt.excluded[name] for name in _CHANGED},
        )
        session.execute(stmt)


def _sortable(key: tuple) -> tuple:
    # NULL dimensions sort last, as PostgreSQL's ORDER BY does.
    return tuple((value is None, value if value is not None else "") for value in key)


@dataclass(frozen=True)
class RebuildResult:
    first_day: date | None
    last_day: date | None
    rows: dict[str, int]  # rollup table → its rows in the range (months: the months it touches)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def rebuild(session: Session, first_day: date | None = None, last_day: date | None = None) -> RebuildResult:
    """Recompute every rollup for [first_day, last_day] from the raw calls.

    Day and hour rows of the range are recomputed from raw calls, then the month rows of every
    month the range touches from the day rows (which keep the history of dropped raw months).
    Defaults to the days the raw calls cover. Ingest waits while it runs (the rollup tables are
    locked against writes until the caller's transaction ends).
    """
    if first_day is None or last_day is None:
        low, high = session.execute(text("SELECT min(timestamp), max(timestamp) FROM llm_call_log")).one()
        if low is None:
            return RebuildResult(None, None, {})
        first_day = first_day or low.astimezone(UTC).date()
        last_day = last_day or high.astimezone(UTC).date()
    bounds = {"first": first_day, "last": last_day,
              "start": datetime.combine(first_day, time.min, tzinfo=UTC),
              "end": datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=UTC),
              "first_month": _month_start(first_day), "end_month": next_month(last_day)}
    raw = "(SELECT * FROM llm_call_log WHERE timestamp >= :start AND timestamp < :end) AS calls"
    # Writers wait until this transaction ends: each table's recount and their additions never mix.
    session.execute(text(f"LOCK TABLE {', '.join(rollup_tables())} IN SHARE ROW EXCLUSIVE MODE"))
    rows: dict[str, int] = {}
    for rollup, grain in grains():  # days and hours first: months are summed from days
        if grain is MONTH:
            continue
        table = rollup.table(grain)
        where = "day BETWEEN :first AND :last" if grain is DAY else "hour >= :start AND hour < :end"
        session.execute(text(f"DELETE FROM {table} WHERE {where}"), bounds)
        session.execute(text(upsert_sql(rollup, grain, raw)), bounds)
        rows[table] = session.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), bounds).scalar_one()
    for rollup in ROLLUPS:
        if rollup.has(MONTH):
            table = rollup.table(MONTH)
            where = "month >= :first_month AND month < :end_month"
            session.execute(text(f"DELETE FROM {table} WHERE {where}"), bounds)
            session.execute(text(months_from_days_sql(rollup)), bounds)
            rows[table] = session.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), bounds).scalar_one()
    return RebuildResult(first_day, last_day, rows)


def months_from_days_sql(rollup: Rollup, where: str = "") -> str:
    """SQL summing the day rows of [:first_month, :end_month) into month rows (`where`: more
    conditions, starting with AND)."""
    keys = ", ".join(rollup.key)
    name = ", assistant_name" if rollup.names_assistants else ""
    latest = (", (array_agg(assistant_name ORDER BY day DESC) FILTER (WHERE assistant_name IS NOT NULL))[1]"
              if rollup.names_assistants else "")
    days = at_grain(rollup, DAY).table(DAY)  # user months from user_model days
    return (f"INSERT INTO {rollup.table(MONTH)} (month, {keys}{name}, {', '.join(rollup.measures)}) "
            f"SELECT (date_trunc('month', day))::date, {keys}{latest}, "
            f"{', '.join(f'sum({m})' for m in rollup.measures)} "
            f"FROM {days} WHERE day >= :first_month AND day < :end_month {where} "
            f"GROUP BY 1, {keys}")
