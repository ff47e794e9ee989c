"""The benchmark's database: fresh, migrated, with the price catalog, dropped afterwards.

Without ``BENCH_DATABASE_URL`` a throwaway cluster is made in a temporary folder
(:func:`app.embedded_pg.throwaway`) with :data:`CLUSTER_SETTINGS`; with it, the server is that
one (whose settings are then the server's own). Either way each data set gets a new database in
the server, dropped at the end (the scaling mode makes one per grid point in one server).
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from alembic import command
from psycopg import sql
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from app import embedded_pg
from app.config import normalise_url
from app.dbstate import alembic_config
from app.pricing import sync_catalog

# Sized for this machine class (24 GiB RAM, 2 cores) and a 10M-call data set. Durability stays at
# PostgreSQL's defaults (fsync, synchronous_commit, full_page_writes all on): the single-call
# latency must include the WAL flush a real deployment pays (about 0.1 ms on this disk).
CLUSTER_SETTINGS = {
    "shared_buffers": "2GB",
    "effective_cache_size": "16GB",
    "work_mem": "32MB",
    "maintenance_work_mem": "1GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
}
# What the report prints: the settings above plus the ones that decide durability and parallelism.
REPORTED_SETTINGS = ("server_version", *CLUSTER_SETTINGS, "fsync", "synchronous_commit", "full_page_writes",
                     "wal_level", "max_parallel_workers_per_gather", "jit")


@dataclass(frozen=True)
class BenchServer:
    url: str  # SQLAlchemy URL of a database to connect to for CREATE DATABASE
    origin: str  # what it is, for the report
    kept: str | None = None  # how to reach or remove it when kept (a throwaway cluster)


@dataclass(frozen=True)
class BenchDatabase:
    url: str  # SQLAlchemy URL of the fresh database
    origin: str  # where it lives, for the report
    kept: str | None = None  # how to reach or remove it when BENCH_KEEP=1


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def database_server(server_url: str | None, *, keep: bool) -> Iterator[BenchServer]:
    """`server_url`'s server, or a new throwaway cluster (stopped and removed afterwards unless `keep`)."""
    if server_url:
        yield BenchServer(normalise_url(server_url), "BENCH_DATABASE_URL's server")
        return
    parent = Path(tempfile.mkdtemp(prefix="ledger-bench-pg-"))
    cluster = embedded_pg.throwaway(parent / "data", fast=False, settings=CLUSTER_SETTINGS)
    try:
        kept = None
        if keep:
            kept = (f"cluster kept (BENCH_KEEP=1): {cluster.url()}; stop it with "
                    f"`runuser -u postgres -- pg_ctl -D {cluster.datadir} stop` (or without runuser when not root), "
                    f"then `rm -rf {parent}`")
        yield BenchServer(cluster.url(), f"throwaway cluster in {parent} (port {cluster.port})", kept)
    finally:
        if not keep:
            cluster.stop()
            shutil.rmtree(parent, ignore_errors=True)


@contextlib.contextmanager
def database_in(server: BenchServer, *, keep: bool) -> Iterator[BenchDatabase]:
    """A new, empty database in `server`, dropped afterwards unless `keep`."""
    name = f"ledger_bench_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(server.url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(server.url).set(database=name).render_as_string(hide_password=False)
    try:
        kept = f"database {name} kept (BENCH_KEEP=1): DROP DATABASE {name}" if keep else None
        yield BenchDatabase(url, f"database {name} in {server.origin}", "; ".join(filter(None, (kept, server.kept)))
                            or None)
    finally:
        if not keep:
            with psycopg.connect(_libpq(server.url), autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def fresh_database(server_url: str | None, *, keep: bool) -> Iterator[BenchDatabase]:
    """A new, empty database: in `server_url`'s server, or in a new throwaway cluster."""
    with database_server(server_url, keep=keep) as server, database_in(server, keep=keep) as database:
        yield database


def migrate(engine: Engine) -> None:
    """`alembic upgrade head`, then the bundled price catalog (as `make run` does)."""
    config = alembic_config()
    config.attributes["configure_logging"] = False
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    with Session(engine) as session:
        sync_catalog(session)
        session.commit()


def server_settings(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {name: conn.execute(text(f"SHOW {name}")).scalar_one() for name in REPORTED_SETTINGS}


def make_engine(url: str) -> Engine:
    return create_engine(url, pool_size=2, max_overflow=2)
