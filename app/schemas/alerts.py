"""Request and response schemas of `/api/alerts` (camelCase; money as exact decimal strings)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.alerts import MAX_ALERTS
from app.models.alerts import DELIVERY_STATES
from app.schemas.fields import CompanyId, Money


class AlertQuery(Schema):
    company_id = CompanyId(metadata={"description": "Default: the API key's company (a platform key: every company)."})
    budget_id = fields.Integer(strict=False, data_key="budgetId", validate=validate.Range(min=1, max=2**63 - 1))
    before_id = fields.Integer(strict=False, data_key="beforeId", validate=validate.Range(min=1, max=2**63 - 1),
                              metadata={"description": "Only alerts older than this one (the next page)."})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_ALERTS))


class AlertSchema(Schema):
    id = fields.Integer(metadata={"description": "Stable: the id webhook deliveries carry, to deduplicate on."})
    company_id = fields.String(data_key="companyId")
    budget_id = fields.Integer(data_key="budgetId", allow_none=True,
                               metadata={"description": "Null once the budget was deleted."})
    threshold = fields.Integer(metadata={"description": "Percent of the limit crossed."})
    period = fields.String()
    period_start = fields.DateTime(format="iso", data_key="periodStart")
    period_end = fields.DateTime(format="iso", data_key="periodEnd")
    limit = Money()
    spent = Money(metadata={"description": "The budget's spend in the period right after the write that crossed."})
    created_at = fields.DateTime(format="iso", data_key="createdAt")
    delivery = fields.String(metadata={"enum": list(DELIVERY_STATES),
                                       "description": "pending (not yet accepted by a webhook), delivered, or "
                                                      "no_webhook (none configured)."})
    attempts = fields.Integer()
    delivered_at = fields.DateTime(format="iso", data_key="deliveredAt", allow_none=True)
    last_error = fields.String(data_key="lastError", allow_none=True)


class AlertListSchema(Schema):
    alerts = fields.List(fields.Nested(AlertSchema), metadata={"description": "Newest first."})
