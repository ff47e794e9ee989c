"""The check every request passes before its handler: a valid key with the scope its endpoint needs.

``Authorization: Bearer <key>``: 401 without a valid key (with ``WWW-Authenticate: Bearer``), 403
when the key lacks the scope. What each endpoint needs is decided here, in one place, by blueprint
and method; a new blueprint must be added to `_SCOPE_OF` (its requests are refused until it is).
"""

from __future__ import annotations

import flask
from flask_smorest import abort

from app.auth.keys import KeyRing

# Endpoints anyone may call: liveness, the API's description, static files, and the pages of the
# dashboard and the API reference (they hold no data: their scripts call the API with a key).
PUBLIC = frozenset({"health.healthz", "api-docs.openapi_json", "static", "dashboard.index", "dashboard.static",
                    "reference.docs", "reference.static"})
# Blueprint → scope, for reads (GET) and for changes (any other method).
_SCOPE_OF: dict[str, tuple[str, str]] = {
    "ingest": ("ingest", "ingest"),
    "otlp": ("ingest", "ingest"),  # POST /v1/traces (OpenTelemetry export)
    "analytics": ("read", "read"),
    "prices": ("read", "admin"),
    "budgets": ("read", "admin"),
    "alerts": ("read", "read"),
    "insight": ("read", "read"),
    "metrics": ("read", "read"),  # and a key spanning every company (app.api.metrics)
}


def required_scope(endpoint: str, method: str) -> str | None:
    """The scope `endpoint` needs for `method`; None when it is public."""
    if endpoint in PUBLIC:
        return None
    blueprint = endpoint.partition(".")[0]
    read, change = _SCOPE_OF.get(blueprint, ("admin", "admin"))
    return read if method in ("GET", "HEAD") else change


def _unauthorized(message: str) -> None:
    abort(401, message=message, headers={"WWW-Authenticate": 'Bearer realm="llm-cost-ledger"'})


def _check() -> None:
    request = flask.request
    if request.endpoint is None or request.method == "OPTIONS":  # no such route: 404/405 as usual
        return
    scope = required_scope(request.endpoint, request.method)
    if scope is None:
        return
    header = request.headers.get("Authorization", "")
    kind, _, secret = header.partition(" ")
    if not header:
        _unauthorized("This endpoint needs an API key: send `Authorization: Bearer <key>` "
                      "(make one with `flask costs keys create`).")
    if kind.lower() != "bearer" or not secret.strip():
        _unauthorized("The Authorization header must read `Bearer <key>`.")
    principal = flask.current_app.extensions["ledger_keys"].principal(secret.strip())
    if principal is None:
        _unauthorized("Unknown or revoked API key.")
    if scope not in principal.scopes:
        abort(403, message=f"This API key ({principal.name}) lacks the {scope!r} scope this request needs "
                           f"(it has: {', '.join(sorted(principal.scopes))}).")
    flask.g.principal = principal


def init_app(app: flask.Flask, keys: KeyRing) -> None:
    app.extensions["ledger_keys"] = keys
    app.before_request(_check)
