"""Rollups: the call log summed per UTC day (and hour) and the dimensions analytics groups by.

`llm_call_daily` is the full grain; `llm_call_daily_model` the same without users;
`llm_call_daily_user` per day, company and user only; `llm_call_hourly` per hour and company. All three are kept exactly in step with the call log.

One row per (day, company, provider, model, user, assistant, endpoint, success) with call
counts, every token count and the costs summed. It is kept exactly in step with
`llm_call_log` by the same statements that write the log (ingest, repricing), so analytics over
whole days read it instead of the raw rows, and it keeps the history after raw partitions are
dropped. NULL dimensions (no user, no assistant, no endpoint) are a group of their own
(``NULLS NOT DISTINCT``). ``assistant_name`` is the latest name reported that day.
"""

from __future__ import annotations

from datetime import date, datetime
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


class _Measures:
    """What every rollup row sums: calls, every token count, costs, latency."""

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

    # A rollup's unique key identifies a row (there is no surrogate key: Citus wants every unique
    # key to include the distribution column, company_id, and each of these does).
    KEY: tuple[str, ...] = ()

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"primary_key": [cls.__table__.c[name] for name in cls.KEY]}


class CallDaily(_Measures, Base):
    """The full grain: per day and every dimension, users included."""

    __tablename__ = "llm_call_daily"
    KEY = DIMENSIONS

    day: Mapped[date] = mapped_column(Date)
    company_id: Mapped[str]
    provider: Mapped[str]
    model: Mapped[str]
    user_id: Mapped[str | None]
    assistant_id: Mapped[str | None]
    endpoint: Mapped[str | None]
    success: Mapped[bool]
    assistant_name: Mapped[str | None]

    __table_args__ = (
        UniqueConstraint(*DIMENSIONS, name="uq_llm_call_daily_key", postgresql_nulls_not_distinct=True),
        Index(None, "company_id", "day"),
        Index(None, "user_id", "day"),
        Index(None, "assistant_id", "day"),
        Index(None, "model", "day"),
    )


class CallDailyModel(_Measures, Base):
    """The same without users: what summaries, daily series and reports read (users are the
    high-cardinality dimension; without them a month is a few thousand rows at any call volume)."""

    __tablename__ = "llm_call_daily_model"
    KEY = tuple(name for name in DIMENSIONS if name != "user_id")

    day: Mapped[date] = mapped_column(Date)
    company_id: Mapped[str]
    provider: Mapped[str]
    model: Mapped[str]
    assistant_id: Mapped[str | None]
    endpoint: Mapped[str | None]
    success: Mapped[bool]
    assistant_name: Mapped[str | None]

    __table_args__ = (
        UniqueConstraint(*KEY, name="uq_llm_call_daily_model_key", postgresql_nulls_not_distinct=True),
        Index("ix_llm_call_daily_model_by_day", "day"),  # the convention's name is the other table's (model, day)
        Index(None, "company_id", "day"),
        Index(None, "assistant_id", "day"),
        Index(None, "model", "day"),
    )


class CallDailyUser(_Measures, Base):
    """Per day, company and user only: what per-user totals (the summary's `byUser`, reports by
    user) read."""

    __tablename__ = "llm_call_daily_user"
    KEY = ("day", "company_id", "user_id", "success")

    day: Mapped[date] = mapped_column(Date)
    company_id: Mapped[str]
    user_id: Mapped[str | None]
    success: Mapped[bool]

    __table_args__ = (
        UniqueConstraint(*KEY, name="uq_llm_call_daily_user_key", postgresql_nulls_not_distinct=True),
        Index("ix_llm_call_daily_user_by_day", "day"),
        Index(None, "company_id", "day"),
    )


class CallHourly(_Measures, Base):
    """Per hour and company: the rolling 30-day total reads whole hours here, raw rows only for the
    partial hours at its two edges."""

    __tablename__ = "llm_call_hourly"
    KEY = ("hour", "company_id")

    hour: Mapped[datetime]
    company_id: Mapped[str]

    __table_args__ = (UniqueConstraint(*KEY, name="uq_llm_call_hourly_key"),)
