"""`price_epoch`: one row whose value changes whenever `model_price` does.

A statement-level trigger on `model_price` (migration 0006) sets ``epoch`` to the next value of
the sequence ``price_epoch_seq`` after any INSERT, UPDATE, DELETE or TRUNCATE. Sequence values
are never handed out twice, even by a transaction that rolls back, so two readers that see the
same epoch see the same prices. Ingest relies on that: each process keeps the price histories it
has read (:class:`app.pricing.PriceCache`), and the ingest statement writes nothing unless the
epoch it reads is still the one those prices were read at (:mod:`app.ledger`).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class PriceEpoch(Base):
    __tablename__ = "price_epoch"

    # One row only: its key can only be TRUE.
    singleton: Mapped[bool] = mapped_column(primary_key=True, server_default=text("true"))
    epoch: Mapped[int]

    __table_args__ = (CheckConstraint("singleton", name="one_row"),)
