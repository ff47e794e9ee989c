"""`llm_call_daily`: the call log summed per UTC day and every dimension analytics groups by.

One row per (day, company, provider, model, user, assistant, endpoint, success) with call
counts, every token count and the costs summed. It is kept exactly in step with
`llm_call_log` by the same statements that write the log (ingest, repricing), so analytics over
whole days read it instead of the raw rows, and it keeps the history after raw partitions are
dropped. NULL dimensions (no user, no assistant, no endpoint) are a group of their own
(``NULLS NOT DISTINCT``). ``assistant_name`` is the latest name reported that day.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Index, Numeric, UniqueConstraint, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from app.db import Base

# Sums of many calls: 20 integer digits, the same 18 decimals as a call's cost.
SUM_MONEY = Numeric(38, 18)
DIMENSIONS = ("day", "company_id", "provider", "model", "user_id", "assistant_id", "endpoint", "success")
TOKEN_SUMS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens",
              "input_audio_tokens", "cached_audio_tokens", "reasoning_tokens", "output_audio_tokens", "total_tokens")
COST_SUMS = ("input_cost", "output_cost", "total_cost")


def _count() -> Mapped[int]:
    return mapped_column(BigInteger, server_default=text("0"))


def _money() -> Mapped[Decimal]:
    return mapped_column(SUM_MONEY, server_default=text("0"))


class CallDaily(Base):
    __tablename__ = "llm_call_daily"

    day: Mapped[date] = mapped_column(Date)
    company_id: Mapped[str]
    provider: Mapped[str]
    model: Mapped[str]
    user_id: Mapped[str | None]
    assistant_id: Mapped[str | None]
    endpoint: Mapped[str | None]
    success: Mapped[bool]
    assistant_name: Mapped[str | None]
    calls: Mapped[int] = _count()
    unpriced_calls: Mapped[int] = _count()
    input_tokens: Mapped[int] = _count()
    output_tokens: Mapped[int] = _count()
    cached_input_tokens: Mapped[int] = _count()
    cache_write_tokens: Mapped[int] = _count()
    cache_write_1h_tokens: Mapped[int] = _count()
    input_audio_tokens: Mapped[int] = _count()
    cached_audio_tokens: Mapped[int] = _count()
    reasoning_tokens: Mapped[int] = _count()
    output_audio_tokens: Mapped[int] = _count()
    total_tokens: Mapped[int] = _count()
    input_cost: Mapped[Decimal] = _money()
    output_cost: Mapped[Decimal] = _money()
    total_cost: Mapped[Decimal] = _money()
    duration_ms_sum: Mapped[int] = _count()
    timed_calls: Mapped[int] = _count()

    __table_args__ = (
        UniqueConstraint(*DIMENSIONS, name="uq_llm_call_daily_key", postgresql_nulls_not_distinct=True),
        Index(None, "company_id", "day"),
        Index(None, "user_id", "day"),
        Index(None, "assistant_id", "day"),
        Index(None, "model", "day"),
    )
    # The unique key identifies a row (there is no surrogate key: Citus wants every unique key to
    # include the distribution column, company_id, and this one does).
    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"primary_key": [cls.__table__.c[name] for name in DIMENSIONS]}
