"""Ingest request schemas (camelCase JSON → `NewCall`) and the stored-call response schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from app.config import MAX_BATCH_CALLS
from app.records import NewCall
from app.schemas.fields import Money, StrictBoolean, StrictInteger, Text, TokenCount

# Clocks drift; a call stamped further ahead than this is a client bug, not a real call.
MAX_FUTURE_SKEW = timedelta(hours=1)
DEFAULT_COMPANY = "default"


class CallInSchema(Schema):
    provider = Text(64, required=True, metadata={"example": "openai"})
    model = Text(200, required=True, metadata={"example": "gpt-4o"})
    input_tokens = TokenCount(required=True, data_key="inputTokens",
                              metadata={"description": "All input tokens, cached ones included."})
    output_tokens = TokenCount(required=True, data_key="outputTokens")
    cached_input_tokens = TokenCount(load_default=0, data_key="cachedInputTokens",
                                     metadata={"description": "How many of inputTokens were cache reads."})
    duration_ms = StrictInteger(validate=validate.Range(min=0, max=2**31 - 1), allow_none=True,
                                load_default=None, data_key="durationMs")
    success = StrictBoolean(load_default=True)
    error = fields.String(validate=validate.Length(max=10_000), allow_none=True, load_default=None)
    user_id = Text(200, allow_none=True, load_default=None, data_key="userId")
    endpoint = Text(500, allow_none=True, load_default=None)
    company_id = Text(200, load_default=DEFAULT_COMPANY, data_key="companyId")
    assistant_id = Text(200, allow_none=True, load_default=None, data_key="assistantId")
    assistant_name = Text(200, allow_none=True, load_default=None, data_key="assistantName")
    timestamp = fields.AwareDateTime(format="iso", allow_none=True, load_default=None,
                                     metadata={"description": "ISO 8601 with offset; defaults to the time of ingest."})
    request_id = Text(200, allow_none=True, load_default=None, data_key="requestId",
                      metadata={"description": "Idempotency key: a retry with the same key (per company) is stored once."})
    metadata = fields.Dict(keys=fields.String(), load_default=dict)

    @validates_schema
    def _check_consistency(self, data: dict[str, Any], **kwargs: Any) -> None:
        cached, total = data.get("cached_input_tokens"), data.get("input_tokens")
        if cached is not None and total is not None and cached > total:
            raise ValidationError("Must not exceed inputTokens (which counts cached tokens too).",
                                  "cachedInputTokens")
        stamp = data.get("timestamp")
        if stamp is not None and stamp > datetime.now(UTC) + MAX_FUTURE_SKEW:
            raise ValidationError("Must not be in the future.", "timestamp")

    @post_load
    def _make_call(self, data: dict[str, Any], **kwargs: Any) -> NewCall:
        if data["timestamp"] is not None:
            data["timestamp"] = data["timestamp"].astimezone(UTC)
        return NewCall(**data)


class CallBatchInSchema(Schema):
    calls = fields.List(fields.Nested(CallInSchema), required=True,
                        validate=validate.Length(min=1, max=MAX_BATCH_CALLS))


class CallOutSchema(Schema):
    id = fields.Integer()
    duplicate = fields.Boolean(metadata={"description": "True when this was a retry of a call stored before."})
    provider = fields.String()
    model = fields.String()
    input_tokens = fields.Integer(data_key="inputTokens")
    output_tokens = fields.Integer(data_key="outputTokens")
    cached_input_tokens = fields.Integer(data_key="cachedInputTokens")
    total_tokens = fields.Integer(data_key="totalTokens")
    input_cost = Money(data_key="inputCost", allow_none=True)
    output_cost = Money(data_key="outputCost", allow_none=True)
    total_cost = Money(data_key="totalCost", allow_none=True)
    priced = fields.Boolean(metadata={"description": "False when no price was known; costs are null until repriced."})
    price_id = fields.Integer(data_key="priceId", allow_none=True)
    duration_ms = fields.Integer(data_key="durationMs", allow_none=True)
    success = fields.Boolean()
    error = fields.String(allow_none=True)
    user_id = fields.String(data_key="userId", allow_none=True)
    endpoint = fields.String(allow_none=True)
    company_id = fields.String(data_key="companyId")
    assistant_id = fields.String(data_key="assistantId", allow_none=True)
    assistant_name = fields.String(data_key="assistantName", allow_none=True)
    timestamp = fields.DateTime(format="iso")
    recorded_at = fields.DateTime(format="iso", data_key="recordedAt")
    request_id = fields.String(data_key="requestId", allow_none=True)
    metadata = fields.Dict()


class CallBatchOutSchema(Schema):
    stored = fields.Integer(metadata={"description": "Calls stored by this request."})
    duplicates = fields.Integer(metadata={"description": "Calls recognised as retries and not stored again."})
    calls = fields.List(fields.Nested(CallOutSchema))
