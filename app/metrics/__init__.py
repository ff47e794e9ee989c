"""Metrics for Prometheus (``GET /metrics``, served by :mod:`app.api.metrics`).

Two kinds, kept apart:

- what each process counts as it works — ingest requests, the calls they carried, their latency,
  alert deliveries (:mod:`app.metrics.instruments`, timed at the WSGI edge by
  :mod:`app.metrics.ingest_requests`); under gunicorn every worker writes its values to a file of
  its own and a scrape sums them all (:mod:`app.metrics.multiprocess`), so a counter is exact
  whichever worker answers;
- what the database says at scrape time — stored calls, cost, unpriced and failed calls by
  provider and model, alerts in the delivery outbox (:mod:`app.metrics.stored`, read from the
  rollups, at most once per few seconds per process);

joined into one answer in Prometheus's text format by :mod:`app.metrics.exposition`.

Nothing here imports Flask. This package's ``__init__`` imports nothing: gunicorn's master imports
:mod:`app.metrics.multiprocess` before it forks, and must not import prometheus_client then.
"""
