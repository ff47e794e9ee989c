"""`budget`: a spending limit of a company, over a calendar period in a time zone.

Narrowed, optionally, to one user, assistant, model, endpoint or API key. `thresholds` are the
percentages of the limit at which alerts fire (issue 12).

`budget_spend` is what a budget has spent in each of its periods (``period_start``: the period's
first instant, in UTC, of the calendar of the budget's time zone), kept exactly in step with
`llm_call_log` by the ledger (:mod:`app.ledger.budget_spend`) from ``tracked_from`` — the start of
the period in force when the budget was made or its scope last changed — onwards.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ARRAY, CheckConstraint, Computed, ForeignKey, Identity, Index, Integer, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

PERIODS = ("day", "week", "month")
# A budget's first narrowing field, as one text: the ledger finds the budgets a call may count
# against by (company_id, match_key) — '' (company-wide), or u:/a:/m:/e:/k: and the user, assistant,
# model, endpoint or key — and then checks the other fields (app.ledger.budget_spend).
MATCH_KEY = ("CASE WHEN user_id IS NOT NULL THEN 'u:' || user_id WHEN assistant_id IS NOT NULL THEN 'a:' || assistant_id "
             "WHEN model IS NOT NULL THEN 'm:' || model WHEN endpoint IS NOT NULL THEN 'e:' || endpoint "
             "WHEN api_key_id IS NOT NULL THEN 'k:' || api_key_id ELSE '' END")


class Budget(Base):
    __tablename__ = "budget"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    company_id: Mapped[str]
    period: Mapped[str]
    timezone: Mapped[str] = mapped_column(server_default=text("'UTC'"))
    limit_usd: Mapped[Decimal]
    thresholds: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    user_id: Mapped[str | None]
    assistant_id: Mapped[str | None]
    model: Mapped[str | None]
    endpoint: Mapped[str | None]
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_key.id", ondelete="CASCADE"))
    webhook_url: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Periods starting at or after this instant are counted (app.ledger.budget_spend).
    tracked_from: Mapped[datetime]
    match_key: Mapped[str] = mapped_column(Computed(MATCH_KEY, persisted=True))

    __table_args__ = (
        CheckConstraint("period IN ('day', 'week', 'month')", name="period_known"),
        CheckConstraint("limit_usd > 0", name="limit_positive"),
        CheckConstraint("cardinality(thresholds) BETWEEN 1 AND 10", name="thresholds_count"),
        Index("ix_budget_company_id", "company_id"),
        Index("ix_budget_company_id_match_key", "company_id", "match_key"),
    )


class BudgetSpend(Base):
    """What one budget spent in one of its periods (calls unpriced count as 0)."""

    __tablename__ = "budget_spend"

    budget_id: Mapped[int] = mapped_column(ForeignKey("budget.id", ondelete="CASCADE"), primary_key=True)
    period_start: Mapped[datetime] = mapped_column(primary_key=True)
    spent: Mapped[Decimal]
    calls: Mapped[int]
