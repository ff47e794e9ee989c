"""HTTP layer: blueprints that parse, call a service, and serialise — nothing else."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

import flask
from flask_smorest import Blueprint as _SmorestBlueprint
from marshmallow import RAISE
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from app.api.guards import check_json_text, register_guards
from app.db import DATABASE_UNAVAILABLE, is_outage


class _Parser(FlaskParser):
    # Bad input is the client's error: 400 with every bad field named (webargs defaults to 422).
    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return core.missing
        raw = req.get_data(cache=True)
        # Undecodable bytes and bad JSON both raise errors webargs answers with 400 "Invalid JSON body."
        parsed = self._parse_json(raw.decode("utf-8"))
        check_json_text(raw, parsed)  # 400 for text PostgreSQL cannot store (NUL, lone surrogates)
        return parsed

    def _parse_json(self, text: str) -> Any:
        return json.loads(text)


class _ExactParser(_Parser):
    """Loads JSON numbers with a fraction or exponent as `Decimal`, digit for digit as sent."""

    def _parse_json(self, text: str) -> Any:
        return json.loads(text, parse_float=Decimal)


class Blueprint(_SmorestBlueprint):
    ARGUMENTS_PARSER = _Parser()

    def query(self, schema: Any) -> Any:
        """``@bp.query(Schema)``: the query string, loaded by `schema`; an unknown parameter is a
        400 (webargs would drop it silently: a typo should not be ignored)."""
        return self.arguments(schema, location="query", unknown=RAISE)


class ExactNumbersBlueprint(Blueprint):
    """For bodies that carry money: ``2.5e-06`` arrives as ``Decimal("0.0000025")``, never a float."""

    ARGUMENTS_PARSER = _ExactParser()


log = logging.getLogger(__name__)

def register_errors(app: flask.Flask) -> None:
    register_guards(app)
    for error in DATABASE_UNAVAILABLE:
        app.register_error_handler(error, _database_unavailable)


def _database_unavailable(exc: Exception) -> tuple[dict[str, Any], int, dict[str, str]]:
    if not is_outage(exc):
        # The database refused the statement: a fault of ours, not an outage a retry would outlast.
        log.exception("Database error, answered 500")
        return ({"code": 500, "status": "Internal Server Error",
                 "message": "The database refused this request's statement; it was not stored or changed. "
                            "This is a fault of the ledger: it is logged, and retrying will not help."}, 500, {})
    log.error("Database unavailable, answered 503: %s", exc)
    return ({"code": 503, "status": "Service Unavailable",
             "message": "The database is unavailable; try again. A retry with the same requestId is stored at "
                        "most once."},
            503, {"Retry-After": "1"})
