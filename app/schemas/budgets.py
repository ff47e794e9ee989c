"""Request and response schemas of `/api/budgets` (camelCase; money as exact decimal strings)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.budgets import DEFAULT_THRESHOLDS
from app.models.budgets import PERIODS
from app.schemas.fields import CompanyId, Money, StrictInteger, Text


def _url(value: str) -> None:
    if not value.startswith(("http://", "https://")):
        raise ValidationError("Must be an http:// or https:// URL.")


def _period(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf(PERIODS), metadata={"description": "day, week or month."}, **kwargs)


def _limit(**kwargs: Any) -> Money:
    return Money(data_key="limit", metadata={"example": "500.00", "description": "USD, more than 0."}, **kwargs)


def _timezone(**kwargs: Any) -> fields.String:
    return Text(64, metadata={"example": "Europe/Berlin",
                              "description": "The IANA time zone of the period's calendar (default UTC)."}, **kwargs)


def _thresholds(**kwargs: Any) -> fields.List:
    return fields.List(StrictInteger(validate=validate.Range(min=1, max=1000)), validate=validate.Length(min=1, max=10),
                       metadata={"description": "Percentages of the limit at which an alert fires."}, **kwargs)


class _BudgetFields(Schema):
    period = _period()
    timezone = _timezone()
    limit_usd = _limit()
    thresholds = _thresholds()
    user_id = Text(200, data_key="userId", allow_none=True)
    assistant_id = Text(200, data_key="assistantId", allow_none=True)
    model = Text(200, allow_none=True)
    endpoint = Text(500, allow_none=True)
    api_key_id = StrictInteger(data_key="apiKeyId", allow_none=True)
    webhook_url = fields.String(data_key="webhookUrl", allow_none=True,
                                validate=[validate.Length(min=1, max=2000), _url])


class BudgetInSchema(_BudgetFields):
    """A new budget: `period` and `limit` required; narrowed by any of the optional fields."""

    company_id = CompanyId(metadata={"description": "Default: the API key's company (a platform key must name one)."})
    period = _period(required=True)
    limit_usd = _limit(required=True)
    timezone = _timezone(load_default="UTC")
    thresholds = _thresholds(load_default=lambda: list(DEFAULT_THRESHOLDS))

    @validates_schema
    def _needs_company(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("company_id") is None:
            raise ValidationError("A budget belongs to a company: send companyId.", "companyId")


class BudgetPatchSchema(_BudgetFields):
    """Any of a budget's fields but its company."""


class BudgetSchema(Schema):
    id = fields.Integer()
    company_id = fields.String(data_key="companyId")
    period = fields.String()
    timezone = fields.String()
    limit_usd = Money(data_key="limit")
    thresholds = fields.List(fields.Integer())
    user_id = fields.String(data_key="userId", allow_none=True)
    assistant_id = fields.String(data_key="assistantId", allow_none=True)
    model = fields.String(allow_none=True)
    endpoint = fields.String(allow_none=True)
    api_key_id = fields.Integer(data_key="apiKeyId", allow_none=True)
    webhook_url = fields.String(data_key="webhookUrl", allow_none=True)
    created_at = fields.DateTime(format="iso", data_key="createdAt")


class BudgetListSchema(Schema):
    budgets = fields.List(fields.Nested(BudgetSchema))


class BudgetListQuery(Schema):
    company_id = CompanyId()


class BudgetStateSchema(Schema):
    """A budget's spend in its period (after a write, or now)."""

    budget_id = fields.Integer(data_key="budgetId")
    period = fields.String()
    period_start = fields.DateTime(format="iso", data_key="periodStart")
    resets_at = fields.DateTime(format="iso", data_key="resetsAt",
                                metadata={"description": "When the period ends and the next starts afresh."})
    spent = Money()
    limit = Money()
    remaining = Money(metadata={"description": "limit − spent, or 0 once spent."})
    exceeded = fields.Boolean(metadata={"description": "spent ≥ limit."})


class BudgetStatusSchema(Schema):
    budgets = fields.List(fields.Nested(BudgetStateSchema))


class BudgetCheckQuery(Schema):
    """A call about to be made: what it would count against (unset: the call has none)."""

    company_id = CompanyId(metadata={"description": "Default: the API key's company (a platform key must name one)."})
    user_id = Text(200, data_key="userId")
    assistant_id = Text(200, data_key="assistantId")
    model = Text(200, metadata={"description": "As the call would send it (any spelling of the model)."})
    provider = Text(100, metadata={"description": "Optional: resolves the model's spelling as the ledger will."})
    endpoint = Text(500)
    estimated_cost = Money(data_key="estimatedCost", validate=validate.Range(min=Decimal(0)), metadata={
        "description": "USD the call is expected to cost: not allowed if it would take a budget past its limit."})

    @validates_schema
    def _needs_company(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("company_id") is None:
            raise ValidationError("Budgets belong to a company: send companyId.", "companyId")


class BudgetCheckSchema(Schema):
    allowed = fields.Boolean(metadata={"description": "False when a budget that applies has spent its limit (or, "
                                                      "with estimatedCost, would go past it)."})
    budget_id = fields.Integer(data_key="budgetId", allow_none=True,
                               metadata={"description": "The tightest budget that applies (least remaining); "
                                                        "null when none applies."})
    period = fields.String(allow_none=True)
    spent = Money(allow_none=True)
    limit = Money(allow_none=True)
    remaining = Money(allow_none=True)
    resets_at = fields.DateTime(format="iso", data_key="resetsAt", allow_none=True)
    budgets = fields.List(fields.Nested(BudgetStateSchema), metadata={"description": "Every budget that applies."})


class BudgetForecastSchema(Schema):
    """Where a budget's current period is heading (app/budgets/forecast.py says how)."""

    budget_id = fields.Integer(data_key="budgetId")
    period = fields.String()
    period_start = fields.DateTime(format="iso", data_key="periodStart")
    resets_at = fields.DateTime(format="iso", data_key="resetsAt")
    now = fields.DateTime(format="iso", metadata={"description": "Spend is counted to here."})
    spent = Money()
    limit = Money()
    forecast = Money(metadata={"description": "The spend expected when the period ends."})
    low = Money()
    high = Money()
    will_exceed = fields.Boolean(data_key="willExceed", metadata={"description": "forecast ≥ limit."})
    exceeds_at = fields.DateTime(format="iso", data_key="exceedsAt", allow_none=True, metadata={
        "description": "When the limit is expected to be reached (now if it already is); null: not this period."})
    method = fields.String()
