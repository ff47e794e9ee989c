"""`GET /metrics`: the ledger's metrics in Prometheus's text format (:mod:`app.metrics`), for a key
with the `read` scope that spans every company (the totals are every company's).

Not in the OpenAPI document: Prometheus reads it, not API clients. :func:`init_app` also puts the
counter of ingest requests in front of the app (:mod:`app.metrics.ingest_requests`).
"""

from __future__ import annotations

import flask

from app.auth import require_every_company
from app.db import get_session
from app.metrics import exposition, stored
from app.metrics.ingest_requests import IngestRequests

bp = flask.Blueprint("metrics", __name__)

# The ingest routes whose requests are counted and timed, by endpoint name, and their label.
INGEST_ROUTES = {"ingest.record_call": "single", "ingest.record_batch": "batch", "otlp.export_traces": "otlp"}


@bp.get("/metrics")
def metrics() -> flask.Response:
    require_every_company("metrics")
    cached: stored.Cached = flask.current_app.extensions["ledger_metrics"]
    totals = cached.get(lambda: stored.read(get_session()))
    return flask.Response(exposition.render(totals), content_type=exposition.CONTENT_TYPE)


def init_app(app: flask.Flask) -> None:
    """After the ingest and otlp blueprints are registered: serve /metrics and count ingest requests."""
    exposition.check_mode()
    app.register_blueprint(bp)
    app.extensions["ledger_metrics"] = stored.Cached(app.config["LEDGER_SETTINGS"].metrics_cache_seconds)
    paths = {rule.rule: INGEST_ROUTES[rule.endpoint] for rule in app.url_map.iter_rules()
             if rule.endpoint in INGEST_ROUTES}
    if sorted(paths.values()) != sorted(INGEST_ROUTES.values()):
        raise RuntimeError(f"ingest routes {sorted(INGEST_ROUTES)} not found: register the ingest blueprint first")
    app.wsgi_app = IngestRequests(app.wsgi_app, paths)  # type: ignore[method-assign]
