"""A real gunicorn serving the app on a free port, as `make run` does, for the HTTP measurements."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from app.embedded_pg import PROJECT_ROOT, free_port

# A 10,000-call batch on a loaded machine can outlast gunicorn's default 30 s worker timeout.
WORKER_TIMEOUT_S = 300


@contextlib.contextmanager
def gunicorn(database_url: str, *, workers: int, log_path: Path,
             app: str = "wsgi:app", env: dict[str, str] | None = None,
             port: int | None = None) -> Iterator[tuple[str, int, int]]:
    """Yield (host, port, master pid) of a gunicorn serving `app` (with the settings `make run`
    uses, and `env` added to the environment) once it answers ``/healthz``, on `port` (a free one
    by default); its log (the app's per-call lines included, as in production) goes to `log_path`."""
    port = port or free_port()
    env = os.environ | {"DATABASE_URL": database_url} | (env or {})
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "python:app.gunicorn_conf", "--workers", str(workers),
             "--bind", f"127.0.0.1:{port}", "--timeout", str(WORKER_TIMEOUT_S), app],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"gunicorn did not start; see {log_path}") from None
                time.sleep(0.2)
        yield "127.0.0.1", port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
