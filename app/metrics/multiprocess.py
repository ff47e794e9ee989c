"""Where gunicorn's workers keep their metric values: prometheus_client's multiprocess directory.

prometheus_client chooses, when it is first imported in a process, whether values live in memory
(one process) or in files of ``PROMETHEUS_MULTIPROC_DIR`` (a file per process, summed at each
scrape). gunicorn's master sets the variable before it forks a worker (app/gunicorn_conf.py's
``on_starting`` calls :func:`prepare`); workers import prometheus_client after the fork. So the
master never imports prometheus_client before that, and neither does this module (nor may
gunicorn's ``--preload``, which imports the app in the master first: /metrics then refuses to
answer, see :func:`app.metrics.exposition.check_mode`).

The directory is the one the variable names, emptied of a previous run's files (a counter must
start at 0 with the service; so one service to a directory), or a new temporary one, removed when
gunicorn exits (:func:`cleanup`).
A ``flask costs alerts deliver`` run with the same variable on the same machine adds its
deliveries to what the service's scrapes report.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"

_made: Path | None = None  # the temporary directory prepare() made, removed by cleanup()


def prepare(environ: MutableMapping[str, str] = os.environ) -> Path:
    """Set `ENV` in `environ` to an empty directory and return it."""
    global _made
    named = environ.get(ENV)
    if named:
        directory = Path(named)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        directory = _made = Path(tempfile.mkdtemp(prefix="ledger-metrics-"))
        environ[ENV] = str(directory)
    return directory


def worker_exited(pid: int) -> None:
    """A worker is gone: drop its live gauges (none today; its counters stay in the sums)."""
    if os.environ.get(ENV):
        from prometheus_client import multiprocess  # the master: only once the directory is set

        multiprocess.mark_process_dead(pid)


def cleanup() -> None:
    """Remove the temporary directory :func:`prepare` made, if it made one."""
    global _made
    if _made is not None:
        shutil.rmtree(_made, ignore_errors=True)
        _made = None
