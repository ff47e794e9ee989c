"""`price_change`: every write to `model_price`, kept for good (an append-only audit trail).

A trigger on `model_price` (migration 0012) adds a row for each insert, update and delete: when,
who (the transaction's ``ledger.actor`` setting — an API key's name or ``cli <os user>`` — else the
database user, marked ``(SQL)``), which price, and its values before and after as JSON. Another
trigger refuses to update or delete these rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Identity, Index, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class PriceChange(Base):
    __tablename__ = "price_change"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    changed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    actor: Mapped[str]
    action: Mapped[str]
    price_id: Mapped[int]
    provider: Mapped[str]
    model: Mapped[str]
    company_id: Mapped[str | None]
    old: Mapped[dict[str, Any] | None]
    new: Mapped[dict[str, Any] | None]

    __table_args__ = (
        CheckConstraint("action IN ('insert', 'update', 'delete')", name="action_known"),
        Index("ix_price_change_model", "provider", "model", "id"),
    )
