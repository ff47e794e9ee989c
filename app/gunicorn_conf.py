"""gunicorn settings of `make run` and the benchmark: ``gunicorn -c python:app.gunicorn_conf wsgi:app``.

gthread workers: each process serves up to `threads` requests at once and keeps client
connections alive between requests, so the single calls a process receives together are
written together (:mod:`app.ledger.group_commit`). `WORKERS` (default 2, one per core here) and
`THREADS` (default 16) override the defaults; command-line options override both.
"""

import os

worker_class = "gthread"
workers = int(os.environ.get("WORKERS", "2"))
threads = int(os.environ.get("THREADS", "16"))
keepalive = 5  # seconds an idle client connection is kept open
# The longest request line gunicorn takes (its maximum; the default is 4094): longer ones are
# answered 414 by gunicorn itself, in HTML, before the app sees them (README, "Bounds").
limit_request_line = 8190


def pre_request(worker, req):
    """A batch is seconds of one process's CPU: its connection is closed after the answer, so the
    client's next batch goes to whichever worker is free. Kept alive, two batch clients could stay
    on one worker and share its one core (one interpreter lock) while the other worker idles."""
    if req.path == "/api/calls/batch":
        req.must_close = True


def post_worker_init(worker):
    """Each worker delivers budget alerts from the outbox in a background thread (app.alerts.delivery;
    workers never send one alert twice at once: they skip the alerts another has locked)."""
    from app import start_alert_delivery

    start_alert_delivery(worker.wsgi)


def on_starting(server):
    """Before any worker forks: the directory where every worker keeps its metric values, so that
    a scrape of any worker sums them all (app.metrics.multiprocess)."""
    from app.metrics import multiprocess

    multiprocess.prepare()


def child_exit(server, worker):
    from app.metrics import multiprocess

    multiprocess.worker_exited(worker.pid)


def on_exit(server):
    from app.metrics import multiprocess

    multiprocess.cleanup()
