"""Ingest request schemas (camelCase JSON → `NewCall`) and the stored-call response schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from app.bounds import YEARS
from app.config import MAX_BATCH_CALLS
from app.pricing import native
from app.pricing.usage import TokenUsage
from app.records import NewCall
from app.token_types import TOKEN_TYPES
from app.schemas.fast_load import FastList, FastLoad
from app.schemas.budgets import BudgetStateSchema
from app.schemas.fields import MAX_TOKENS, CompanyId, Moment, Money, StrictBoolean, StrictInteger, Text, TokenCount

# Clocks drift; a call stamped further ahead than this is a client bug, not a real call.
MAX_FUTURE_SKEW = timedelta(hours=1)
DEFAULT_COMPANY = "default"


SERVICE_TIERS = {"standard": "standard", "default": "standard", "auto": "standard", "batch": "batch",
                 "flex": "flex", "priority": "priority", "fast": "fast"}
TOKEN_FIELDS = {token.json: token.name for token in TOKEN_TYPES}  # JSON name → attribute

# One field per token type (app/token_types.py); the two totals are required unless `usage` is sent.
_TokenFieldsIn = type("_TokenFieldsIn", (Schema,), {
    token.name: TokenCount(data_key=token.json, metadata={
        "description": token.description + (" Required unless `usage`." if token.required else "")})
    for token in TOKEN_TYPES})
_TokenFieldsOut = type("_TokenFieldsOut", (Schema,), {
    token.name: fields.Integer(data_key=token.json) for token in TOKEN_TYPES})


class CallInSchema(_TokenFieldsIn):
    provider = Text(64, required=True, metadata={"example": "openai"})
    model = Text(200, required=True, metadata={"example": "gpt-4o"})
    usage = fields.Dict(keys=fields.String(), load_default=None, metadata={
        "description": "Instead of token fields: the provider's own usage object (OpenAI Chat Completions or "
                       "Responses `usage`, Anthropic Messages `usage`, Gemini `usageMetadata`)."})
    usage_format = fields.String(data_key="usageFormat", load_default=None,
                                 validate=validate.OneOf(list(native.FORMATS)),
                                 metadata={"description": "Format of `usage`; detected when omitted."})
    service_tier = fields.String(data_key="serviceTier", load_default="standard",
                                 validate=validate.OneOf(list(SERVICE_TIERS)),
                                 metadata={"description": "Service tier the provider billed (batch, flex, priority…)."})
    duration_ms = StrictInteger(validate=validate.Range(min=0, max=2**31 - 1), allow_none=True,
                                load_default=None, data_key="durationMs")
    success = StrictBoolean(load_default=True)
    error = fields.String(validate=validate.Length(max=10_000), allow_none=True, load_default=None)
    user_id = Text(200, allow_none=True, load_default=None, data_key="userId")
    endpoint = Text(500, allow_none=True, load_default=None)
    company_id = CompanyId(default=DEFAULT_COMPANY, metadata={
        "description": f"Default: the API key's company (`{DEFAULT_COMPANY}` for a key that spans every company); "
                       "a key bound to a company may write only for it (403)."})
    assistant_id = Text(200, allow_none=True, load_default=None, data_key="assistantId")
    assistant_name = Text(200, allow_none=True, load_default=None, data_key="assistantName")
    timestamp = Moment(format="iso", allow_none=True, load_default=None, metadata={
        "description": f"ISO 8601 with offset, within {YEARS}; defaults to the time of ingest."})
    request_id = Text(200, allow_none=True, load_default=None, data_key="requestId",
                      metadata={"description": "Idempotency key: a retry with the same key (per company) is stored once."})
    metadata = fields.Dict(keys=fields.String(), load_default=dict)

    @validates_schema
    def _check_consistency(self, data: dict[str, Any], **kwargs: Any) -> None:
        given = [name for name, attr in TOKEN_FIELDS.items() if data.get(attr) is not None]
        if data.get("usage") is not None:
            if given:
                raise ValidationError(f"Send either usage or token fields, not both (got {', '.join(given)}).",
                                      "usage")
            try:
                data["_tokens"] = native.token_usage(data["provider"], data["usage"], data.get("usage_format"))
            except native.NativeUsageError as exc:
                raise ValidationError(str(exc), "usage") from exc
            if max(data["_tokens"].as_dict().values()) > MAX_TOKENS:
                raise ValidationError(f"Token counts must not exceed {MAX_TOKENS:,}.", "usage")
        else:
            missing = {name: ["Missing data for required field."] for name in ("inputTokens", "outputTokens")
                       if data.get(TOKEN_FIELDS[name]) is None}
            if missing:
                raise ValidationError(missing)
            tokens = TokenUsage(**{attr: data.get(attr) or 0 for attr in TOKEN_FIELDS.values()})
            if problems := tokens.problems():
                raise ValidationError({name: [message] for name, message in problems.items()})
            data["_tokens"] = tokens
        stamp = data.get("timestamp")
        if stamp is not None and stamp > datetime.now(UTC) + MAX_FUTURE_SKEW:
            raise ValidationError("Must not be in the future.", "timestamp")

    @post_load
    def _make_call(self, data: dict[str, Any], **kwargs: Any) -> NewCall:
        tokens: TokenUsage = data.pop("_tokens")
        for attr in (*TOKEN_FIELDS.values(), "usage", "usage_format"):
            data.pop(attr, None)
        if data["timestamp"] is not None:
            data["timestamp"] = data["timestamp"].astimezone(UTC)
        data["service_tier"] = SERVICE_TIERS[data["service_tier"]]
        return NewCall(**data, **tokens.as_dict())


def _fast_calls(schema: CallInSchema) -> FastLoad:
    return FastLoad(schema, validators=[schema._check_consistency], post_load=schema._make_call)


class CallBatchInSchema(Schema):
    # Each call is loaded as CallInSchema loads it (app/schemas/fast_load.py: the same result, faster).
    calls = FastList(fields.Nested(CallInSchema), _fast_calls, required=True,
                     validate=validate.Length(min=1, max=MAX_BATCH_CALLS))


class CallOutSchema(_TokenFieldsOut):
    id = fields.Integer()
    duplicate = fields.Boolean(metadata={"description": "True when this was a retry of a call stored before."})
    differs = fields.List(fields.String(), metadata={
        "description": "On a retry: the fields in which it differs from the stored call (which is kept as it was, "
                       "and the difference logged); empty when it is the same call."})
    provider = fields.String()
    model = fields.String()
    total_tokens = fields.Integer(data_key="totalTokens")
    service_tier = fields.String(data_key="serviceTier")
    input_cost = Money(data_key="inputCost", allow_none=True)
    output_cost = Money(data_key="outputCost", allow_none=True)
    total_cost = Money(data_key="totalCost", allow_none=True)
    priced = fields.Boolean(metadata={"description": "False when no price was known; costs are null until repriced."})
    price_id = fields.Integer(data_key="priceId", allow_none=True)
    unpriced_reason = fields.String(data_key="unpricedReason", allow_none=True, metadata={
        "description": "Why the call has no price (no price for its model, tier and date; a price without a rate "
                       "for the tokens used; a price the cost engine refused); null when priced."})
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
    budgets = fields.List(fields.Nested(BudgetStateSchema), metadata={
        "description": "The budgets this call counts against, with their spend right after it was stored (a "
                       "budget's period is the one that holds the call's timestamp); empty on a retry. Recorded "
                       "whatever the budgets say: check before the call with GET /api/budgets/check."})


class BatchCallOutSchema(CallOutSchema):
    """A call of a batch's answer: the ids of the budgets it counts against (their states are the
    batch answer's `budgets`, once each)."""

    class Meta:
        exclude = ("budgets",)

    budget_ids = fields.List(fields.Integer(), data_key="budgetIds", metadata={
        "description": "The budgets this call counts against (see the answer's budgets); empty on a retry."})


class CallBatchOutSchema(Schema):
    stored = fields.Integer(metadata={"description": "Calls stored by this request."})
    duplicates = fields.Integer(metadata={"description": "Calls recognised as retries and not stored again."})
    budgets = fields.List(fields.Nested(BudgetStateSchema), metadata={
        "description": "Every budget period the batch's calls count against, with its spend right after the batch."})
    calls = fields.List(fields.Nested(BatchCallOutSchema))
