"""A whole service for the commands that photograph or time it (``make screenshots``,
``make bench-clients``): a fresh database on the test suite's choice of server (TEST_DATABASE_URL,
else a throwaway cluster), migrated and priced, an API key, and a real gunicorn over it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.embedded_pg import PROJECT_ROOT
from bench.server import gunicorn
from tests.pg import fresh_database, server_url


@dataclass(frozen=True)
class Service:
    base: str  # http://127.0.0.1:PORT
    key: str  # the key made for the run
    database_url: str


def flask_cli(database_url: str, *args: str) -> str:
    """`flask --app wsgi costs ARGS…` against `database_url`; its standard output."""
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "costs", *args], cwd=PROJECT_ROOT,
                          check=True, env=os.environ | {"DATABASE_URL": database_url}, capture_output=True,
                          text=True).stdout


@contextlib.contextmanager
def fresh_service(key_name: str, scopes: str, *, workers: int = 2) -> Iterator[Service]:
    with server_url() as (server, where), fresh_database(server) as url:
        print(f"database: {where}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=PROJECT_ROOT, check=True,
                       env=os.environ | {"DATABASE_URL": url}, capture_output=True)
        flask_cli(url, "prices", "sync")
        key = flask_cli(url, "keys", "create", "--name", key_name, "--scopes", scopes).strip().splitlines()[-1]
        with tempfile.TemporaryDirectory() as scratch, \
                gunicorn(url, workers=workers, log_path=Path(scratch) / "gunicorn.log",
                         env={"ALERT_DELIVERY": "off"}) as (host, port, _):
            yield Service(f"http://{host}:{port}", key, url)
