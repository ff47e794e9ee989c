"""The floor under single-call latency: ``POST /api/calls`` answered without pricing or storing.

The same blueprint class, request schema, answer serialisation and gunicorn settings as the
service (`gunicorn -c python:app.gunicorn_conf bench.floor:app`), and nothing else: no price
lookup, no database. The benchmark sends it the same calls from the same clients as the real
endpoint, so the single-call row can be read against what HTTP, Flask and validation alone cost
on the machine — the part of the latency that no change to the ledger can remove.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from flask_smorest import Api

from app.api import Blueprint
from app.records import NewCall
from app.schemas.calls import CallInSchema, CallOutSchema
from app.schemas.flat import FlatDump

_CALLS_OUT = FlatDump(CallOutSchema(), skip=("budgets",))


def create_app() -> Flask:
    floor = Flask(__name__)
    floor.config.from_mapping(API_TITLE="LLM cost ledger: benchmark floor", API_VERSION="1.0",
                              OPENAPI_VERSION="3.0.3")
    floor.json.sort_keys = False
    bp = Blueprint("floor", __name__, url_prefix="/api/calls")

    @bp.route("", methods=["POST"])
    @bp.arguments(CallInSchema())
    @bp.response(201, CallOutSchema)
    def record_call(call: NewCall):
        return current_app.json.response(_CALLS_OUT.one(_answer(call)) | {"budgets": []}), 201

    api = Api(floor)
    api.register_blueprint(bp)
    floor.add_url_rule("/healthz", "healthz", lambda: {"status": "ok"})
    return floor


def _answer(call: NewCall) -> dict[str, Any]:
    """The answer's shape, unpriced: the service's answer without what the ledger adds."""
    return vars(call) | {"id": 0, "duplicate": False, "priced": False, "price_id": None, "input_cost": None,
                         "output_cost": None, "total_cost": None, "recorded_at": None,
                         "total_tokens": call.input_tokens + call.output_tokens}


app = create_app()
