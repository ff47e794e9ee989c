"""Engine, sessions and the declarative `Base`.

One `Database` per app: an engine and a session factory. A request (or CLI command) gets one
session, lazily, from :func:`get_session`; it is closed when the request ends. Writes are
committed at the boundary — by the handler or command that owns the unit of work (for single
calls, the group commit that writes them: `app.ledger.group_commit`) — never inside services or models.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from flask import Flask, current_app, g
from sqlalchemy import BigInteger, DateTime, MetaData, Numeric, Text, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Deterministic constraint names, so migrations name what the models name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Errors among which an outage hides, raised by psycopg itself (the ledger's raw cursor) or wrapped
# by SQLAlchemy; `is_outage` tells an outage from the rest of these classes (PostgreSQL files a
# statement too complex, a full disk or a bad value under OperationalError too).
DATABASE_UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError, OperationalError, InterfaceError)
# SQLSTATEs of a database that is going, gone, not yet back, or cancelled our statement (class 08:
# connection exceptions), or lost a serialisation race or a deadlock: a retry later can succeed.
_OUTAGE_STATES = frozenset({"57P01", "57P02", "57P03", "57P04", "57P05", "57014", "53300", "40001", "40P01"})


def is_outage(exc: BaseException) -> bool:
    """The connection or the database failed (unreachable, lost, shutting down, statement
    cancelled), not the statement: the caller may retry. An error PostgreSQL answered for the
    statement itself (e.g. 54001 "stack depth limit exceeded") is not an outage."""
    if not isinstance(exc, DATABASE_UNAVAILABLE):
        return False
    if getattr(exc, "connection_invalidated", False):
        return True
    error = getattr(exc, "orig", None) or exc
    if isinstance(error, psycopg.InterfaceError):
        return True
    state = getattr(error, "sqlstate", None)
    return state is None or state.startswith("08") or state in _OUTAGE_STATES

# Money: enough scale for one token of the cheapest catalog price (prices carry up to 12
# decimals per million tokens, so a per-token cost needs 18), and 12 integer digits.
MONEY_PRECISION, MONEY_SCALE = 30, 18
MONEY = Numeric(MONEY_PRECISION, MONEY_SCALE)


def money_problem(value: Decimal) -> str | None:
    """Why `value` would not be stored exactly in a money column (PostgreSQL would round or
    refuse it); None when it fits."""
    if not value.is_finite():
        return "must be a finite number"
    if value.normalize().as_tuple().exponent < -MONEY_SCALE:  # type: ignore[operator]
        return f"must have at most {MONEY_SCALE} decimal places"
    if abs(value) >= Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE):
        return f"must be less than 10^{MONEY_PRECISION - MONEY_SCALE}"
    return None


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        Decimal: MONEY,
        datetime: DateTime(timezone=True),
        int: BigInteger,
        str: Text,
        dict[str, Any]: JSONB,
    }


class Database:
    """The engine and session factory of one app."""

    def __init__(self, engine: Engine, session_factory: sessionmaker[Session] | None = None) -> None:
        self.engine = engine
        self.session_factory = session_factory or sessionmaker(engine, expire_on_commit=False)
        # For work that is one statement (app.ledger.group_commit): in autocommit, with no BEGIN and COMMIT
        # round trips. A caller that brings its own sessions (the tests' rolled-back transaction)
        # gets those.
        self.statement_factory = session_factory or sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str, **engine_options: Any) -> Database:
        engine = create_engine(url, pool_pre_ping=True, **engine_options)
        event.listen(engine, "connect", _session_settings)
        return cls(engine)

    def session(self) -> Session:
        return self.session_factory()


def _session_settings(dbapi_connection: Any, _record: Any) -> None:
    """The service's statements are short: compiling them with LLVM (PostgreSQL's JIT, on when a
    plan's estimated cost is high) or starting parallel workers for them costs more than running
    them (the ingest statement of a 10,000-call batch spent seconds in JIT; a by-model answer
    15 ms starting workers)."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
        cursor.execute("SET max_parallel_workers_per_gather = 0")
    dbapi_connection.commit()


def init_app(app: Flask, database: Database) -> None:
    app.extensions["ledger_db"] = database
    app.teardown_appcontext(_close_session)


def database() -> Database:
    return current_app.extensions["ledger_db"]


def get_session() -> Session:
    """The session of the current request or CLI command, opened on first use."""
    if "db_session" not in g:
        g.db_session = database().session()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.close()  # rolls back anything not committed by the owner of the unit of work
    except DATABASE_UNAVAILABLE:
        # The connection died with the request (the answer, a 503, is already made): discard it
        # rather than fail the request a second time while cleaning up.
        session.invalidate()
