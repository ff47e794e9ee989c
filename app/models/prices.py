"""`model_price`: what a provider charges for a model, per million tokens, from a given instant.

Rows are of two kinds. ``catalog`` rows come from the bundled `genai-prices` catalog (`flask costs
prices sync`); ``override`` rows are negotiated rates an operator set, for everyone
(``company_id`` NULL) or for one company. Each row is for one service tier (``standard``,
``batch``, ``flex``, ``priority``, ``fast``). The price in force for a call is chosen by
:class:`app.pricing.PriceBook`; BI tools join ``llm_call_log.price_id`` to audit any cost.

Per-million-token prices have one column per billed token type; ``tiers`` holds the prices that
replace a column's base price once a call's input tokens exceed a threshold, as
``{"input_per_mtok": [{"start": 200000, "price": "6"}], …}`` (prices as exact decimal strings).
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

from typing import Any

from sqlalchemy import CheckConstraint, Identity, Time, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.token_types import PRICE_NAMES

# One nullable money column per price type (app.token_types.PRICE_TYPES), in its order.
PriceColumns = type("PriceColumns", (), {
    "__doc__": "The per-million-token price columns of `model_price`.",
    "__annotations__": {name: Mapped[Decimal | None] for name in PRICE_NAMES},
})


class ModelPrice(PriceColumns, Base):
    __tablename__ = "model_price"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    provider: Mapped[str]
    model: Mapped[str]
    service_tier: Mapped[str] = mapped_column(server_default=text("'standard'"))
    kind: Mapped[str] = mapped_column(server_default=text("'catalog'"))
    company_id: Mapped[str | None]
    valid_from: Mapped[datetime]
    # A daily time window (UTC, [start, end), wrapping past midnight when end < start) in which this
    # price replaces the row of the same key without a window — DeepSeek's peak hours; NULL: all day.
    window_start: Mapped[time | None] = mapped_column(Time)
    window_end: Mapped[time | None] = mapped_column(Time)
    # The window's clock: an IANA time zone (e.g. Asia/Shanghai, DST followed); NULL: UTC.
    window_zone: Mapped[str | None]
    # (here the price columns of PriceColumns: declarative puts a mixin's columns after the class's
    # own, so the columns below sort after them, as the migrations have them)
    tiers: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"), sort_order=1)
    source: Mapped[str] = mapped_column(sort_order=1)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), sort_order=1)

    __table_args__ = (
        UniqueConstraint("provider", "model", "service_tier", "kind", "company_id", "valid_from", "window_start",
                         "window_end", name="uq_model_price_key", postgresql_nulls_not_distinct=True),
        CheckConstraint("(window_start IS NULL AND window_end IS NULL) OR (window_start IS NOT NULL AND "
                        "window_end IS NOT NULL AND window_start <> window_end)", name="window_whole"),
        CheckConstraint("window_zone IS NULL OR window_start IS NOT NULL", name="zone_has_window"),
        CheckConstraint(" AND ".join(f"coalesce({name}, 0) >= 0" for name in PRICE_NAMES),
                        name="prices_non_negative"),
        CheckConstraint("kind IN ('catalog', 'override')", name="kind_known"),
        CheckConstraint("kind = 'override' OR company_id IS NULL", name="catalog_has_no_company"),
        CheckConstraint("service_tier IN ('standard', 'batch', 'flex', 'priority', 'fast')", name="tier_known"),
    )
