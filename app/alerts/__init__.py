"""Budget alerts: the thresholds budgets crossed, as recorded by the ledger (one per budget,
threshold and period: :mod:`app.ledger.budget_spend`), read back for the API and the CLI.

Their webhook delivery is :mod:`app.alerts.delivery`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import BudgetAlert

MAX_ALERTS = 1_000


@dataclass(frozen=True)
class Alert:
    id: int
    company_id: str
    budget_id: int | None  # None once the budget was deleted
    period: str
    period_start: datetime
    period_end: datetime
    threshold: int
    limit: Decimal
    spent: Decimal
    created_at: datetime
    delivery: str
    attempts: int
    delivered_at: datetime | None
    last_error: str | None

    @classmethod
    def from_row(cls, row: BudgetAlert) -> Alert:
        return cls(id=row.id, company_id=row.company_id, budget_id=row.budget_id, period=row.period,
                   period_start=row.period_start, period_end=row.period_end, threshold=row.threshold,
                   limit=row.limit_usd, spent=row.spent, created_at=row.created_at, delivery=row.delivery,
                   attempts=row.attempts, delivered_at=row.delivered_at, last_error=row.last_error)


def list_alerts(session: Session, *, company_id: str | None = None, budget_id: int | None = None,
                before_id: int | None = None, limit: int = 100) -> list[Alert]:
    """Alerts, newest first: of one company (None: every company), of one budget, older than `before_id`."""
    query = select(BudgetAlert).order_by(BudgetAlert.id.desc()).limit(min(limit, MAX_ALERTS))
    if company_id is not None:
        query = query.where(BudgetAlert.company_id == company_id)
    if budget_id is not None:
        query = query.where(BudgetAlert.budget_id == budget_id)
    if before_id is not None:
        query = query.where(BudgetAlert.id < before_id)
    return [Alert.from_row(row) for row in session.scalars(query)]
