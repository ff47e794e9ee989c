"""Monthly partitions of `llm_call_log`: create them ahead of time, drop them after retention.

Each month ``[YYYY-MM-01, next month)`` (UTC) has a partition ``llm_call_log_pYYYYMM``. The service
looks after them itself: before a write, :class:`PartitionKeeper` makes sure the months of its calls
exist, and this month and the configured months ahead (created once per process and month, the
first time a write needs them, under an advisory lock). A DEFAULT partition still catches any call
whose month could not be made at that moment (its creation waited too long for a lock), so ingest
never refuses a call; :func:`ensure_partitions` (``flask costs partitions ensure``, also the
keeper's) moves such calls into their month. :func:`drop_partitions_before` drops whole months of
raw calls older than the retention; the rollups keep their history.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

PARENT = "llm_call_log"
DEFAULT = "llm_call_log_default"
_MONTHLY = re.compile(r"^llm_call_log_p(\d{4})(\d{2})$")


def is_partition(name: str) -> bool:
    return name == DEFAULT or bool(_MONTHLY.match(name))


# The index each promoted dimension gets (app/ledger/dimensions.py), made at run time.
DIMENSION_INDEX_PREFIX = "ix_llm_call_log_dim_"


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic filter: partitions are managed at run time by this module, and the indexes of
    promoted dimensions by `flask costs dimensions`, not by migrations."""
    if type_ == "index" and name and name.startswith(DIMENSION_INDEX_PREFIX):
        return False
    return not (type_ == "table" and name and is_partition(name))


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"llm_call_log_p{month.year:04d}{month.month:02d}"  # strftime's %Y does not pad year 1


def _bound(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Partition:
    name: str
    month: date | None  # None: the default partition
    rows_estimate: int


def list_partitions(session: Session) -> list[Partition]:
    rows = session.execute(text(
        "SELECT c.relname, c.reltuples::bigint FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:parent AS regclass) ORDER BY c.relname"), {"parent": PARENT})
    partitions = []
    for name, estimate in rows:
        found = _MONTHLY.match(name)
        month = date(int(found[1]), int(found[2]), 1) if found else None
        partitions.append(Partition(name, month, max(estimate, 0)))
    return partitions


def ensure_partitions(session: Session, *, today: date, months_ahead: int = 3,
                      months: Iterable[date] = ()) -> list[str]:
    """Create the partitions from this month to `months_ahead` months on, those of `months`, and
    one for every month with calls waiting in the default partition (moving those calls in).
    Returns the names created."""
    existing = {p.month for p in list_partitions(session) if p.month}
    waiting = session.execute(text(
        f"SELECT DISTINCT date_trunc('month', timestamp AT TIME ZONE 'UTC')::date FROM {DEFAULT}")).scalars()
    months = (set(waiting) | {add_months(month_start(today), n) for n in range(months_ahead + 1)}
              | {month_start(month) for month in months})
    created = []
    for month in sorted(months - existing):
        _create(session, month)
        created.append(partition_name(month))
    return created


def _create(session: Session, month: date) -> None:
    name, start, end = partition_name(month), _bound(month), _bound(add_months(month, 1))
    bounds = {"start": start, "end": end}
    waiting = session.execute(text(
        f"SELECT EXISTS (SELECT 1 FROM {DEFAULT} WHERE timestamp >= :start AND timestamp < :end)"), bounds).scalar()
    if not waiting:
        session.execute(text(
            f"CREATE TABLE {name} PARTITION OF {PARENT} FOR VALUES FROM ('{start.isoformat()}') "
            f"TO ('{end.isoformat()}')"))
        return
    # Calls of this month are in the default partition: move them into a new table, then attach
    # it (attaching checks that the default partition no longer holds any row of the range).
    session.execute(text(f"LOCK TABLE {DEFAULT} IN SHARE ROW EXCLUSIVE MODE"))
    session.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    session.execute(text(
        f"WITH moved AS (DELETE FROM {DEFAULT} WHERE timestamp >= :start AND timestamp < :end RETURNING *) "
        f"INSERT INTO {name} SELECT * FROM moved"), bounds)
    session.execute(text(
        f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ('{start.isoformat()}') "
        f"TO ('{end.isoformat()}')"))


@dataclass(frozen=True)
class DropResult:
    dropped: list[str]
    default_rows_deleted: int
    keys_deleted: int


def drop_partitions_before(session: Session, cutoff_month: date) -> DropResult:
    """Drop every monthly partition that ends on or before `cutoff_month` (a month start), delete
    older calls left in the default partition, and the idempotency keys of the calls dropped."""
    cutoff = _bound(month_start(cutoff_month))
    dropped = []
    for partition in list_partitions(session):
        if partition.month and add_months(partition.month, 1) <= cutoff_month:
            session.execute(text(f"DROP TABLE {partition.name}"))
            dropped.append(partition.name)
    deleted = session.execute(text(f"DELETE FROM {DEFAULT} WHERE timestamp < :cutoff"), {"cutoff": cutoff}).rowcount
    keys = session.execute(text("DELETE FROM llm_call_request WHERE call_timestamp < :cutoff"),
                           {"cutoff": cutoff}).rowcount
    return DropResult(dropped, deleted, keys)


# One lock for every process that makes partitions (pg_advisory_xact_lock's key: "llm_call_log_p").
_LOCK_KEY = 0x6C6C6D5F70
# How long making a month may wait for the log's lock (the running queries of llm_call_log): past
# it, the write goes on and its calls wait in the default partition until a later write moves them.
LOCK_TIMEOUT = "2s"
RETRY_AFTER_SECONDS = 60.0


class PartitionKeeper:
    """Makes sure, before a write, that the months of its calls have their partitions — and this
    month and `months_ahead` more — creating what is missing in a short transaction of its own.
    Remembers what exists (per process), so a write whose months are known costs a set look-up."""

    def __init__(self, session_factory: Callable[[], Session], *, months_ahead: int = 3,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._session_factory = session_factory
        self._months_ahead = months_ahead
        self._clock = clock
        self._known: set[tuple[int, int]] = set()
        self._lock = threading.Lock()
        self._failed_at = 0.0

    def ensure(self, moments: Iterable[datetime]) -> None:
        today = self._clock().date()
        horizon = add_months(month_start(today), self._months_ahead)
        wanted = {(m.year, m.month) for m in moments} | {(horizon.year, horizon.month)}
        if wanted <= self._known:
            return
        with self._lock:
            missing = wanted - self._known
            if not missing or time.monotonic() - self._failed_at < RETRY_AFTER_SECONDS:
                return
            try:
                created = self._create([date(year, month, 1) for year, month in missing], today)
            except DBAPIError as exc:  # a lock not granted in time, or the database away: not the write's fault
                self._failed_at = time.monotonic()
                log.warning("Could not make the partitions of %s now (%s); the calls wait in %s until a later "
                            "write or `flask costs partitions ensure` moves them", sorted(missing), exc.orig, DEFAULT)
                return
            if created:
                log.info("Created partitions %s", ", ".join(created))

    def _create(self, months: list[date], today: date) -> list[str]:
        with self._session_factory() as session:
            session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            created = ensure_partitions(session, today=today, months_ahead=self._months_ahead, months=months)
            existing = {(p.month.year, p.month.month) for p in list_partitions(session) if p.month}
            session.commit()
        self._known |= existing
        return created
