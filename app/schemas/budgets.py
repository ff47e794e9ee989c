"""Request and response schemas of `/api/budgets` (camelCase; money as exact decimal strings)."""

from __future__ import annotations

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
