"""Loading the benchmark's calls straight into the tables, and timing raw COPY.

Bulk loading bypasses the API on purpose (the API is measured separately): partitions for every
month of the period are made first (so no call lands in the default partition), the calls are
COPYed into ``llm_call_log`` (the identity column numbers them), their idempotency keys are
claimed in one statement, every rollup is rebuilt from the raw calls
(:func:`app.ledger.rollups.rebuild`), and the tables are vacuumed and analysed as autovacuum would
eventually do.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import date, datetime

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app import partitions
from app.ledger import rollups
from bench.generate import COPY_COLUMNS

_QUOTED = ", ".join(f'"{name}"' for name in COPY_COLUMNS)
COPY_SQL = f"COPY llm_call_log ({_QUOTED}) FROM STDIN"


def make_partitions(engine: Engine, first_day: date, today: date) -> list[str]:
    """Monthly partitions from the month of `first_day` to three months after `today`'s."""
    start = partitions.month_start(first_day)
    months = (today.year - start.year) * 12 + today.month - start.month
    with Session(engine) as session:
        created = partitions.ensure_partitions(session, today=start, months_ahead=months + 3)
        session.commit()
    return created


def copy_chunks(engine: Engine, chunks: Iterable[bytes]) -> None:
    """COPY the chunks into ``llm_call_log`` in one transaction.

    The raw psycopg connection is taken inside ``engine.begin()`` so that SQLAlchemy commits it
    (see PITFALLS.md: inside ``engine.connect()`` the rows would be silently rolled back).
    """
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(COPY_SQL) as copy:
            for chunk in chunks:
                copy.write(chunk)


def timed_copy(engine: Engine, chunks: list[bytes]) -> float:
    """Seconds to COPY ready-made chunks and commit: the physical limit of writing calls."""
    started = time.perf_counter()
    copy_chunks(engine, chunks)
    return time.perf_counter() - started


def delete_calls(engine: Engine, request_prefix: str, since: datetime) -> int:
    """Delete calls stamped from `since` whose request id starts with `request_prefix`."""
    with engine.begin() as conn:
        return conn.execute(text("DELETE FROM llm_call_log WHERE timestamp >= :since AND request_id LIKE :pattern"),
                            {"since": since, "pattern": _starting_with(request_prefix)}).rowcount


def claim_keys(engine: Engine) -> int:
    """The idempotency keys of the loaded calls, as the ledger would have claimed them."""
    with engine.begin() as conn:
        return conn.execute(text(
            "INSERT INTO llm_call_request (company_id, request_id, call_id, call_timestamp) "
            "SELECT company_id, request_id, id, timestamp FROM llm_call_log WHERE request_id IS NOT NULL "
            "ON CONFLICT DO NOTHING")).rowcount


def rebuild_rollup(engine: Engine) -> rollups.RebuildResult:
    with Session(engine) as session:
        result = rollups.rebuild(session)
        session.commit()
    return result


def vacuum_analyze(engine: Engine, *, analyze_only: bool = False) -> None:
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("llm_call_log", "llm_call_request", *rollups.rollup_tables()):
            conn.execute(text(f"{'ANALYZE' if analyze_only else 'VACUUM (ANALYZE)'} {table}"))


def checkpoint(engine: Engine) -> str | None:
    """Write every dirty page out now (``CHECKPOINT``), so that no checkpoint started by the bulk
    load spreads its writes over a timed measurement afterwards. Returns why it could not be done
    (a server where we lack the right), or None."""
    try:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("CHECKPOINT"))
    except DBAPIError as error:
        if not isinstance(error.orig, psycopg.errors.InsufficientPrivilege):
            raise
        return f"CHECKPOINT not allowed on this server ({error.orig}); a checkpoint may run during measurements"
    return None


def row_count(engine: Engine, table: str = "llm_call_log") -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def calls_since(engine: Engine, since: datetime) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM llm_call_log WHERE timestamp >= :since"),
                            {"since": since}).scalar_one()


def write_statements(engine: Engine, request_prefix: str, since: datetime) -> tuple[int, int]:
    """(calls, statements that wrote them) of the calls stamped from `since` whose request id
    starts with `request_prefix`. The calls of one statement share its transaction's `now()` as
    ``recorded_at``, so the statements are the distinct ``recorded_at`` values."""
    with engine.connect() as conn:
        calls, statements = conn.execute(
            text("SELECT count(*), count(DISTINCT recorded_at) FROM llm_call_log "
                 "WHERE timestamp >= :since AND request_id LIKE :pattern"),
            {"since": since, "pattern": _starting_with(request_prefix)}).one()
    return calls, statements


def _starting_with(prefix: str) -> str:
    """A LIKE pattern for request ids that start with `prefix`."""
    return prefix.replace("_", r"\_") + "%"
