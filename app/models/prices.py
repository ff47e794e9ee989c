"""`model_price`: what a provider charges for a model, per million tokens, from a given instant.

Rows come from the bundled `genai-prices` catalog (`flask costs prices sync`) or an operator.
The price in force at time T is the row with the latest ``valid_from <= T``. BI tools join
``llm_call_log.price_id`` to this table to audit any cost.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Identity, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class ModelPrice(Base):
    __tablename__ = "model_price"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    provider: Mapped[str]
    model: Mapped[str]
    valid_from: Mapped[datetime]
    input_per_mtok: Mapped[Decimal | None]
    output_per_mtok: Mapped[Decimal | None]
    cache_read_per_mtok: Mapped[Decimal | None]
    cache_write_per_mtok: Mapped[Decimal | None]
    source: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        UniqueConstraint("provider", "model", "valid_from"),
        CheckConstraint(
            "coalesce(input_per_mtok, 0) >= 0 AND coalesce(output_per_mtok, 0) >= 0"
            " AND coalesce(cache_read_per_mtok, 0) >= 0 AND coalesce(cache_write_per_mtok, 0) >= 0",
            name="prices_non_negative",
        ),
    )
