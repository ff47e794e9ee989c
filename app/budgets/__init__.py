"""Budgets: a company's spending limit over a calendar period (day, week, month) in a time zone,
optionally narrowed to one user, assistant, model, endpoint or API key, with alert thresholds.

This module keeps them (create, list, change, delete); what a budget has spent, the pre-flight
check and alerts are issue 12's next steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ApiKey, Budget
from app.models.budgets import PERIODS

DEFAULT_THRESHOLDS = (50, 80, 100)


class BudgetError(ValueError):
    """A budget that cannot be stored: `field` (as the API names it) and why."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass
class BudgetSpec:
    company_id: str
    period: str
    limit_usd: Decimal
    timezone: str = "UTC"
    thresholds: list[int] = field(default_factory=lambda: list(DEFAULT_THRESHOLDS))
    user_id: str | None = None
    assistant_id: str | None = None
    model: str | None = None
    endpoint: str | None = None
    api_key_id: int | None = None
    webhook_url: str | None = None


SPEC_FIELDS = tuple(f.name for f in fields(BudgetSpec))


def _check(session: Session, values: dict[str, Any]) -> None:
    if values["period"] not in PERIODS:
        raise BudgetError("period", f"one of {', '.join(PERIODS)}")
    try:
        ZoneInfo(values["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise BudgetError("timezone", f"unknown time zone {values['timezone']!r} (an IANA name such as "
                                      "Europe/Berlin)") from None
    if values["limit_usd"] <= 0:
        raise BudgetError("limit", "must be more than 0")
    thresholds = values["thresholds"]
    if not 1 <= len(thresholds) <= 10 or any(not 1 <= t <= 1000 for t in thresholds):
        raise BudgetError("thresholds", "1 to 10 percentages of the limit, each from 1 to 1000")
    values["thresholds"] = sorted(set(thresholds))
    if values["api_key_id"] is not None:
        key = session.get(ApiKey, values["api_key_id"])
        if key is None or (key.company_id is not None and key.company_id != values["company_id"]):
            raise BudgetError("apiKeyId", "no such key of this company")


def create_budget(session: Session, spec: BudgetSpec) -> Budget:
    values = {name: getattr(spec, name) for name in SPEC_FIELDS}
    _check(session, values)
    budget = Budget(**values)
    session.add(budget)
    session.flush()
    return budget


def list_budgets(session: Session, company_id: str | None = None) -> list[Budget]:
    query = select(Budget).order_by(Budget.id)
    if company_id is not None:
        query = query.where(Budget.company_id == company_id)
    return list(session.scalars(query))


def get_budget(session: Session, budget_id: int, company_id: str | None = None) -> Budget | None:
    """The budget, if it exists and (with `company_id`) belongs to that company."""
    if not 0 < budget_id < 2**63:  # ids are bigints: anything else names no budget
        return None
    budget = session.get(Budget, budget_id)
    if budget is None or (company_id is not None and budget.company_id != company_id):
        return None
    return budget


def update_budget(session: Session, budget: Budget, changes: dict[str, Any]) -> Budget:
    """Change some of a budget's fields (its company stays)."""
    values = {name: getattr(budget, name) for name in SPEC_FIELDS} | {
        name: value for name, value in changes.items() if name in SPEC_FIELDS and name != "company_id"}
    _check(session, values)
    for name, value in values.items():
        setattr(budget, name, value)
    session.flush()
    return budget


def delete_budget(session: Session, budget: Budget) -> None:
    session.delete(budget)
    session.flush()
