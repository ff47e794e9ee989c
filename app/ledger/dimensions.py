"""Metadata keys an operator promotes to dimensions (``project``, ``team``, ``environment`` …).

Calls carry free-form ``metadata``; promoting a key makes its value a dimension like user or
model: breakdowns by it (from the rollup ``rollup_dimension_day``/``_month``, one row per bucket,
company, key, value and success; the value is ``metadata ->> key``, NULL for calls without it) and
a records filter by it (an index on ``(metadata ->> key, timestamp)``).

How a key joins without losing or doubling a call:

1. :func:`promote` stores the key (not ready). From the commit on, every ingest statement adds
   its calls under the key (the statement joins ``promoted_dimension``), as repricing adds its
   corrections.
2. :func:`backfill` then recounts the key's rows day by day from the raw calls, each day in a
   short transaction that locks the dimension rollups against writes (writers — ingest,
   repricing — wait for that day's recount, and the recount waits for writers in flight, so a
   call is counted by exactly one of them), and rebuilds the month rows of that day's month from
   its day rows. When every day of the raw calls is recounted the key is ready.
3. :func:`ensure_value_index` builds the records filter's index partition by partition
   (``CONCURRENTLY``: writes go on meanwhile).

History older than the raw calls kept (months dropped under the retention) is not in the key's
rollup: a promoted key counts the calls still kept when it was promoted, and every call after.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.ledger import rollups
from app.partitions import DIMENSION_INDEX_PREFIX
from app.ledger.rollup_tables import DAY, MONTH, PROMOTED, PromotedDimension

KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_PROMOTED = 10  # every promoted key adds a row per value to each write's rollup upkeep
_TABLES = f"{PROMOTED.table(DAY)}, {PROMOTED.table(MONTH)}"


class DimensionError(ValueError):
    """A key that cannot be promoted, or is not promoted; the message says why."""


class DimensionNotReady(DimensionError):
    """The key is promoted but its history is still being counted."""


@dataclass(frozen=True)
class Promoted:
    key: str
    ready: bool
    promoted_at: datetime


def index_name(key: str) -> str:
    return f"{DIMENSION_INDEX_PREFIX}{key}"


def _check_key(key: str) -> None:
    if not KEY.fullmatch(key):
        raise DimensionError(f"{key!r} is not a dimension name: lower-case letters, digits and _, starting with a "
                             "letter, at most 40 characters")


def list_promoted(session: Session) -> list[Promoted]:
    rows = session.scalars(select(PromotedDimension).order_by(PromotedDimension.key))
    return [Promoted(row.key, row.ready, row.promoted_at) for row in rows]


def promoted_key(session: Session, key: str) -> str:
    """`key` if it is a promoted dimension (ready or not); DimensionError otherwise."""
    if not KEY.fullmatch(key) or session.get(PromotedDimension, key) is None:
        raise DimensionError(f"{key!r} is not a promoted dimension")
    return key


def is_ready(session: Session, key: str) -> bool:
    found = session.get(PromotedDimension, key)
    return found is not None and found.ready


def value_sql(key: str) -> str:
    """The SQL of a call's value of `key` (with the key as a literal, as its index has it)."""
    _check_key(key)
    return f"(metadata ->> '{key}')"


def ready_key(session: Session, key: str) -> str:
    """`key` if it is a promoted dimension whose history is counted; DimensionError otherwise."""
    found = session.get(PromotedDimension, key) if KEY.fullmatch(key) else None
    if found is None:
        raise DimensionError(f"{key!r} is not a promoted dimension")
    if not found.ready:
        raise DimensionNotReady(f"dimension {key!r} is still being counted; try again when "
                                "`flask costs dimensions list` says it is ready")
    return key


def promoted_keys_for_write(session: Session) -> list[str]:
    """Every promoted key, read after locking the dimension rollups as a writer does (so that a
    recount of a day waits for this transaction): for writes outside the ingest statement."""
    session.execute(text(f"LOCK TABLE {_TABLES} IN ROW EXCLUSIVE MODE"))
    return list(session.scalars(select(PromotedDimension.key).order_by(PromotedDimension.key)))


def promote(session: Session, key: str) -> Promoted:
    """Store `key` as a dimension (not ready until :func:`backfill` has counted its history)."""
    _check_key(key)
    if session.get(PromotedDimension, key) is not None:
        raise DimensionError(f"{key!r} is already a promoted dimension")
    count = len(list_promoted(session))
    if count >= MAX_PROMOTED:
        raise DimensionError(f"at most {MAX_PROMOTED} dimensions can be promoted; demote one first")
    row = PromotedDimension(key=key)
    session.add(row)
    session.flush()
    return Promoted(row.key, row.ready, row.promoted_at)


def backfill(session: Session, key: str, *, today: date | None = None) -> Iterator[date]:
    """Recount `key`'s rollup rows day by day from the raw calls (see the module docstring),
    yielding each day after writing it: the caller commits between days. Marks the key ready
    after the last day (then yields nothing more)."""
    found = session.get(PromotedDimension, key)
    if found is None:
        raise DimensionError(f"{key!r} is not a promoted dimension")
    low, high = session.execute(text("SELECT min(timestamp), max(timestamp) FROM llm_call_log")).one()
    today = today or datetime.now(UTC).date()
    if low is not None:
        day, last = low.astimezone(UTC).date(), max(high.astimezone(UTC).date(), today + timedelta(days=1))
        while day <= last:
            recount_day(session, key, day)
            yield day
            day += timedelta(days=1)
    session.execute(text("UPDATE promoted_dimension SET ready = true WHERE key = :key"), {"key": key})


def recount_day(session: Session, key: str, day: date) -> None:
    """`key`'s rows for `day` (and its month) recomputed from the raw calls, writers held off."""
    bounds = {"key": key, "day": day, "start": datetime.combine(day, time.min, tzinfo=UTC),
              "end": datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC),
              "first_month": day.replace(day=1), "end_month": rollups.next_month(day)}
    session.execute(text(f"LOCK TABLE {_TABLES} IN SHARE ROW EXCLUSIVE MODE"))
    session.execute(text(f"DELETE FROM {PROMOTED.table(DAY)} WHERE dimension = :key AND day = :day"), bounds)
    raw = "(SELECT * FROM llm_call_log WHERE timestamp >= :start AND timestamp < :end) AS calls"
    session.execute(text(rollups.upsert_sql(PROMOTED, DAY, raw, "WHERE promoted.key = :key")), bounds)
    session.execute(text(f"DELETE FROM {PROMOTED.table(MONTH)} WHERE dimension = :key AND month = :first_month"),
                    bounds)
    session.execute(text(rollups.months_from_days_sql(PROMOTED, "AND dimension = :key")), bounds)


def demote(session: Session, key: str) -> None:
    """Forget `key` as a dimension: its rollup rows and its records index go."""
    if session.get(PromotedDimension, key) is None:
        raise DimensionError(f"{key!r} is not a promoted dimension")
    session.execute(text(f"LOCK TABLE {_TABLES} IN SHARE ROW EXCLUSIVE MODE"))
    for table in (PROMOTED.table(DAY), PROMOTED.table(MONTH)):
        session.execute(text(f"DELETE FROM {table} WHERE dimension = :key"), {"key": key})
    session.execute(text("DELETE FROM promoted_dimension WHERE key = :key"), {"key": key})
    session.execute(text(f"DROP INDEX IF EXISTS {index_name(key)}"))


def _index_columns(key: str) -> str:
    return f"({value_sql(key)}, timestamp)"  # the key is checked to be a plain name: it is written in


def ensure_value_index(connection: Connection, key: str, *, concurrently: bool = True) -> None:
    """The index that serves records filtered by `key`'s value, newest first.

    With `concurrently` (on a connection in autocommit), each partition's index is built with
    ``CREATE INDEX CONCURRENTLY`` and attached to the table's, so ingest is never blocked; else
    one ``CREATE INDEX`` in the caller's transaction (for tests and small tables).
    """
    name, columns = index_name(key), _index_columns(key)
    if not concurrently:
        connection.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON llm_call_log {columns}"))
        return
    connection.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON ONLY llm_call_log {columns}"))
    partitions = connection.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'llm_call_log'::regclass ORDER BY 1")).scalars().all()
    for partition in partitions:
        part_index = f"{partition}_d_{key}"
        connection.execute(text(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {part_index} ON {partition} {columns}"))
        attached = connection.execute(text(
            "SELECT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = CAST(:part AS regclass) "
            "AND inhparent = CAST(:parent AS regclass))"), {"part": part_index, "parent": name}).scalar_one()
        if not attached:
            connection.execute(text(f"ALTER INDEX {name} ATTACH PARTITION {part_index}"))
