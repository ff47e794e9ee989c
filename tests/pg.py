"""Where the test suite's PostgreSQL comes from, in this order:

1. ``TEST_DATABASE_URL`` (any server you point it at; a fresh database is made inside it);
2. a testcontainers PostgreSQL when a Docker engine answers;
3. a throwaway cluster made with the ``initdb``/``pg_ctl`` on this machine (see app/embedded_pg.py).

Never none: if all three fail, the session errors out — tests do not skip the database.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from app import embedded_pg
from app.config import normalise_url


def _docker_reachable() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:  # no engine, no socket, no permission: all mean "not available"
        return False


@contextlib.contextmanager
def server_url() -> Iterator[tuple[str, str]]:
    """Yield (URL of a maintenance database on a live server, description of where it came from)."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield normalise_url(url), "TEST_DATABASE_URL"
        return
    if _docker_reachable():
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:15-alpine", driver="psycopg") as container:
            yield container.get_connection_url(), "testcontainers"
        return
    parent = Path(tempfile.mkdtemp(prefix="ledger-test-pg-"))
    cluster = embedded_pg.throwaway(parent / "data")
    try:
        yield cluster.url("postgres"), f"throwaway cluster on port {cluster.port}"
    finally:
        cluster.stop()
        shutil.rmtree(parent, ignore_errors=True)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """A new, empty database on `server`, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"ledger_test_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(server), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(server), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
