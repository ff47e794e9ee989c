"""`budget_alert`: a budget crossed one of its thresholds in one of its periods — and the outbox of
its delivery.

One row per (budget, period, threshold), guaranteed by a unique key: the ledger inserts alerts in
the statement that adds the spend that crossed (:mod:`app.ledger.budget_spend`) with
``ON CONFLICT DO NOTHING``, so concurrent writers crossing together, and repricing crossing again,
record it once. The row is also the durable outbox of its webhook delivery
(:mod:`app.alerts.delivery`): ``delivery`` is ``pending`` until a webhook answered 2xx
(``delivered``) or there is no webhook to send it to (``no_webhook``); failed attempts push
``next_attempt_at`` back. ``budget_id`` becomes NULL if the budget is deleted: its alerts stay.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Identity, Index, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

DELIVERY_STATES = ("pending", "delivered", "no_webhook")


class BudgetAlert(Base):
    __tablename__ = "budget_alert"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    company_id: Mapped[str]
    budget_id: Mapped[int | None] = mapped_column(ForeignKey("budget.id", ondelete="SET NULL"))
    period: Mapped[str]
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    threshold: Mapped[int]
    limit_usd: Mapped[Decimal]
    spent: Mapped[Decimal]  # the budget's spend in the period right after the write that crossed
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    webhook_url: Mapped[str | None]  # the budget's own; NULL: the service's default (app.config)
    delivery: Mapped[str] = mapped_column(server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None]

    __table_args__ = (
        UniqueConstraint("budget_id", "period_start", "threshold", name="uq_budget_alert_once"),
        CheckConstraint("delivery IN ('pending', 'delivered', 'no_webhook')", name="delivery_known"),
        Index("ix_budget_alert_company_id", "company_id", "id"),
        Index("ix_budget_alert_due", "next_attempt_at", postgresql_where=text("delivery = 'pending'")),
    )
