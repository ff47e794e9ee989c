"""Blueprint `otlp`: ``POST /v1/traces``, OpenTelemetry's OTLP/HTTP trace export (README,
"OpenTelemetry ingest"): each span of a GenAI model call becomes one call, written as a batch is.

Not in the OpenAPI document: the protocol is OTLP's (its request and answers are protobuf messages,
or their JSON mapping). Parse (app.otlp.wire), map (app.otlp.spans), validate each call with the
ingest schema, write them with the ledger in one transaction, answer in the request's format —
with `partial_success` naming the spans that could not be stored. An error answer is a
`google.rpc.Status`, as the protocol asks.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import flask
from marshmallow import ValidationError, validate
from werkzeug.exceptions import HTTPException

from app.api.guards import first_text_problem, raw_body
from app.auth import current_principal, key_company
from app.config import Settings
from app.db import get_session
from app.ledger import Ledger
from app.metrics import instruments
from app.otlp import spans, wire
from app.records import NewCall
from app.schemas.calls import CallInSchema

log = logging.getLogger(__name__)

bp = flask.Blueprint("otlp", __name__)

_CALL_IN = CallInSchema()
_MAX_ERROR = next(v.max for v in _CALL_IN.fields["error"].validators if isinstance(v, validate.Length))


@bp.post("/v1/traces")
@raw_body
def export_traces() -> flask.Response:
    request = flask.request
    settings: Settings = flask.current_app.config["LEDGER_SETTINGS"]
    fmt = wire.media_type(request.mimetype)
    export = wire.decode(request.get_data(cache=False), fmt, request.headers.get("Content-Encoding"),
                         limit=settings.max_request_bytes)
    mapped = spans.model_calls(export, settings.otlp, bound_company=key_company(), max_error_chars=_MAX_ERROR)
    calls, rejected = _validated(mapped)
    stored = duplicates = 0
    if calls:
        ledger = Ledger(get_session(), prices=flask.current_app.extensions["ledger_prices"],
                        partitions=flask.current_app.extensions["ledger_partitions"])
        results = ledger.record(calls)
        get_session().commit()
        ledger.committed(results)
        duplicates = sum(result.duplicate for result in results)
        stored = len(results) - duplicates
        instruments.ingest_calls("otlp", stored=stored, duplicates=duplicates)
    if rejected:
        log.warning("OTLP export: %s", wire.rejection(rejected))
    log.info("OTLP export: %d spans, %d model calls stored, %d duplicates, %d rejected, %d ignored",
             mapped.spans, stored, duplicates, len(rejected), mapped.ignored)
    return flask.Response(wire.answer(fmt, rejected), content_type=fmt)


def _validated(mapped: spans.Mapped) -> tuple[list[NewCall], list[str]]:
    """The mapped calls as the ingest schema loads them, marked with the key that sent them; and
    every span that could not be a call, with why (its values named as the span carried them)."""
    principal = current_principal()
    calls: list[NewCall] = []
    rejected = list(mapped.rejected)
    for found in mapped.calls:
        problem = first_text_problem(found.body)
        if problem is not None:
            where, why = problem
            rejected.append(f"span {found.span}: {_source(found, where)}: {why}")
            continue
        try:
            call: NewCall = _CALL_IN.load(found.body)
        except ValidationError as exc:
            errors = exc.normalized_messages()
            rejected.append(f"span {found.span}: " + "; ".join(
                f"{_source(found, name)}: {' '.join(map(str, why if isinstance(why, list) else [why]))}"
                for name, why in errors.items()))
            continue
        calls.append(replace(call, api_key_id=principal.key_id) if principal else call)
    return calls, rejected


def _source(found: spans.SpanCall, field: str) -> str:
    """A field of the call, named as the span carried it: ``gen_ai.usage.input_tokens (inputTokens)``."""
    top = field.partition(".")[0]
    source = found.sources.get(top)
    return f"{source} ({field})" if source else field


@bp.errorhandler(wire.WireError)
def _unreadable(exc: wire.WireError) -> flask.Response:
    return _status(exc.status, str(exc))


@bp.errorhandler(HTTPException)
def _refused(exc: HTTPException) -> flask.Response:
    """Every refusal of this endpoint (401, 403, 413 …, from the key check too) as OTLP's Status."""
    data = getattr(exc, "data", None) or {}
    response = _status(exc.code or 500, data.get("message") or exc.description or exc.name)
    for name, value in (data.get("headers") or {}).items():
        response.headers[name] = value
    return response


def _status(code: int, message: str) -> flask.Response:
    fmt = wire.MEDIA_TYPES.get(flask.request.mimetype, wire.JSON)
    return flask.Response(wire.status(fmt, code, message), status=code, content_type=fmt)
