"""The LLM cost ledger: `create_app()` wires settings, database, blueprints, errors and CLI."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_smorest import Api

from app import db
from app.api.json_provider import FastJSONProvider
from app.config import Settings
from app.ledger.group_commit import GroupCommit
from app.partitions import PartitionKeeper
from app.pricing import PriceCache


def create_app(settings: Settings | None = None, database: db.Database | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.from_mapping(
        LEDGER_SETTINGS=settings,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        API_TITLE="LLM cost ledger",
        API_VERSION="1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    app.json = FastJSONProvider(app)
    app.json.sort_keys = False
    _configure_logging()
    database = database or db.Database.from_url(settings.database_url)
    db.init_app(app, database)
    app.extensions["ledger_prices"] = prices = PriceCache()  # this process's prices, checked at each write
    # The months a write needs, made before it arrives (app.partitions).
    app.extensions["ledger_partitions"] = keeper = PartitionKeeper(database.session_factory,
                                                                   months_ahead=settings.partitions_ahead)
    # Single calls, written together.
    app.extensions["ledger_group_commit"] = GroupCommit(database, prices, partitions=keeper)

    from app.api import alerts, analytics, budgets, health, ingest, insight, prices, register_errors
    from app.auth import requests as auth_requests
    from app.auth.keys import KeyRing

    auth_requests.init_app(app, KeyRing(database.session_factory))  # before any handler: the caller's key

    api = Api(app, spec_kwargs=_spec_kwargs())
    api.spec.components.security_scheme("apiKey", {
        "type": "http", "scheme": "bearer",
        "description": "An API key from `flask costs keys create`: scopes ingest, read, admin; bound to a company "
                       "or spanning every company."})
    for blueprint in (ingest.bp, analytics.bp, prices.bp, budgets.bp, alerts.bp, insight.bp, health.bp):
        api.register_blueprint(blueprint)
    _document_gunicorns_414(api)
    register_errors(app)
    from app.api import metrics as metrics_api
    from app.api import otlp

    app.register_blueprint(otlp.bp)  # POST /v1/traces: OTLP's protocol, not in the OpenAPI document

    metrics_api.init_app(app)  # GET /metrics, and the ingest requests it counts (not in the OpenAPI document)

    from app import dashboard, reference

    app.register_blueprint(dashboard.bp)  # `/`: the dashboard (a page that reads the API with the user's key)
    app.register_blueprint(reference.bp)  # `/docs`: Swagger UI over /openapi.json

    from app import cli

    cli.init_app(app)
    return app


def start_alert_delivery(app: Flask) -> None:
    """Deliver budget alerts from a background thread of this process (gunicorn's post_worker_init),
    unless ALERT_DELIVERY=off; without WEBHOOK_SECRET alerts are recorded and logged, not sent."""
    settings: Settings | None = app.config.get("LEDGER_SETTINGS")
    if settings is None or not settings.alert_delivery:  # (bench/floor.py's app is not the ledger)
        return
    if not settings.webhook_secret:
        logging.getLogger(__name__).warning(
            "WEBHOOK_SECRET is not set: budget alerts are recorded and logged but not sent to webhooks")
        return
    from app.alerts.delivery import Deliverer, Dispatcher

    deliverer = Deliverer.from_settings(app.extensions["ledger_db"].session_factory, settings)
    app.extensions["ledger_alert_dispatcher"] = Dispatcher(deliverer).start()


def _document_gunicorns_414(api: Api) -> None:
    """Every operation may be answered 414 by gunicorn itself, in HTML, before the app: a request
    line over 8,190 bytes (app/gunicorn_conf.py). Said in the document, as it happens."""
    too_long = {"description": "Request line over 8,190 bytes: refused by gunicorn before the app (HTML).",
                "content": {"text/html": {"schema": {"type": "string"}}}}
    for operations in api.spec._paths.values():  # apispec keeps the registered paths here
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("414", too_long)


def _spec_kwargs() -> dict[str, Any]:
    return {"info": {"description": "Records every LLM API call and answers who spent what, on which model, when. "
                                    "Money is an exact decimal string. Every endpoint but /healthz and "
                                    "/openapi.json needs `Authorization: Bearer <API key>` (401 without a valid "
                                    "key, 403 outside its scopes or its company)."},
            "security": [{"apiKey": []}]}


def _configure_logging() -> None:
    """`[CostTracking] …` lines go to stderr at INFO, under gunicorn and the flask CLI alike."""
    logger = logging.getLogger("app")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
