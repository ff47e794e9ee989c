"""Blueprint `ingest`: `POST /api/calls` and `POST /api/calls/batch`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import current_app

from app.api import Blueprint
from app.auth import current_principal
from app.db import get_session
from app.ledger import Ledger
from app.metrics import instruments
from app.records import IngestResult, NewCall
from app.schemas.budgets import BudgetStateSchema
from app.schemas.flat import FlatDump
from app.schemas.calls import (BatchCallOutSchema, CallBatchInSchema, CallBatchOutSchema, CallInSchema,
                               CallOutSchema)

_CALL_OUT = FlatDump(CallOutSchema(), skip=("budgets",))
_BATCH_CALL_OUT = FlatDump(BatchCallOutSchema(), skip=("budget_ids",))
_BUDGETS_OUT = BudgetStateSchema(many=True)
# A call's fields as the client spells them (`input_tokens` → `inputTokens`), to name what a retry changed.
_WIRE = {name: field.data_key or name for name, field in CallInSchema().fields.items()}

bp = Blueprint("ingest", __name__, url_prefix="/api/calls", description="Record LLM calls")


def _ledger() -> Ledger:
    return Ledger(get_session(), prices=current_app.extensions["ledger_prices"],
                  partitions=current_app.extensions["ledger_partitions"])


def _sent_by_this_key(call: NewCall) -> NewCall:
    """The call, marked with the API key that sent it (budgets may be narrowed to a key)."""
    principal = current_principal()
    return replace(call, api_key_id=principal.key_id) if principal else call


def _fields(result: IngestResult) -> dict[str, Any]:
    # A shallow copy of the record's fields (asdict would deep-copy every value: slow for 10,000 calls).
    return vars(result.call) | {"priced": result.call.priced, "duplicate": result.duplicate,
                                "differs": [_WIRE.get(name, name) for name in result.differs]}


@bp.route("", methods=["POST"])
@bp.arguments(CallInSchema())  # an instance: webargs would make one per request from a class
@bp.response(201, CallOutSchema, description="Stored; costs computed with the price in force at `timestamp`.")
@bp.alt_response(200, schema=CallOutSchema, description="A retry of a stored call (same requestId): the original.")
def record_call(call: NewCall):
    # Written with the calls other threads of this process are recording now (app.ledger.group_commit).
    result = current_app.extensions["ledger_group_commit"].record(_sent_by_this_key(call))
    instruments.ingest_calls("single", stored=int(not result.duplicate), duplicates=int(result.duplicate))
    out = _CALL_OUT.one(_fields(result)) | {"budgets": _BUDGETS_OUT.dump(result.budgets)}
    return current_app.json.response(out), 200 if result.duplicate else 201


@bp.route("/batch", methods=["POST"])
@bp.arguments(CallBatchInSchema())
@bp.response(200, CallBatchOutSchema, description="Results in request order; the whole batch is stored or none.")
def record_batch(body: dict[str, list[NewCall]]):
    ledger = _ledger()
    results = ledger.record([_sent_by_this_key(call) for call in body["calls"]])
    get_session().commit()
    ledger.committed(results)
    duplicates = sum(result.duplicate for result in results)
    instruments.ingest_calls("batch", stored=len(results) - duplicates, duplicates=duplicates)
    # Each budget period once (the calls name theirs by id), after the batch: its latest spend.
    states = {(state.budget_id, state.period_start): state for result in results for state in result.budgets}
    # Serialised here (a Response is passed through as is): CallOutSchema's dump, 10,000 times, fast.
    return current_app.json.response({
        "stored": len(results) - duplicates, "duplicates": duplicates,
        "budgets": _BUDGETS_OUT.dump(sorted(states.values(), key=lambda state: (state.budget_id, state.period_start))),
        "calls": [_batch_call(result) for result in results]})


def _batch_call(result: IngestResult) -> dict[str, Any]:
    out = _BATCH_CALL_OUT.one(_fields(result))
    out["budgetIds"] = [state.budget_id for state in result.budgets]
    return out
