"""`llm_call_log`: one row per LLM API call, and `llm_call_request`: the idempotency keys.

Column names of `llm_call_log` keep the seed schema's (``id, model, provider, input_tokens, …,
timestamp, duration_ms, success``) so existing BI queries run unchanged. Token columns follow
one rule: a total includes its parts. ``input_tokens`` counts every input token; of them,
``cached_input_tokens`` were cache reads, ``cache_write_tokens`` cache writes (of which
``cache_write_1h_tokens`` with a one-hour lifetime), ``input_audio_tokens`` audio (of which
``cached_audio_tokens`` cache reads). ``output_tokens`` counts every output token; of them
``reasoning_tokens`` were reasoning and ``output_audio_tokens`` audio. A call with no known price has ``price_id``, ``input_cost``, ``output_cost`` and
``total_cost`` all NULL (unpriced) until `flask costs reprice` prices it.

`llm_call_log` is range-partitioned by month on ``timestamp`` (partitions are managed by
:mod:`app.partitions`; a DEFAULT partition catches any month not created yet, so no call is ever
refused), hence its primary key is ``(id, timestamp, company_id)``: a unique key of a partitioned
table must hold the partition key, and company_id is the distribution column of the Citus plan
(docs/scaling.md).

Idempotency keys live in their own, unpartitioned table keyed by (company_id, request_id), so a
unique key need not include the month: a retry is recognised even when the client let the
server stamp the time. The key remembers the call's id and timestamp (which finds its partition).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Identity, Index, Integer, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class LlmCall(Base):
    __tablename__ = "llm_call_log"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.now())
    company_id: Mapped[str] = mapped_column(primary_key=True)
    user_id: Mapped[str | None]
    assistant_id: Mapped[str | None]
    assistant_name: Mapped[str | None]
    endpoint: Mapped[str | None]
    provider: Mapped[str]
    model: Mapped[str]
    input_tokens: Mapped[int]
    output_tokens: Mapped[int]
    cached_input_tokens: Mapped[int] = mapped_column(server_default=text("0"))
    cache_write_tokens: Mapped[int] = mapped_column(server_default=text("0"))
    cache_write_1h_tokens: Mapped[int] = mapped_column(server_default=text("0"))
    input_audio_tokens: Mapped[int] = mapped_column(server_default=text("0"))
    cached_audio_tokens: Mapped[int] = mapped_column(server_default=text("0"))
    reasoning_tokens: Mapped[int] = mapped_column(server_default=text("0"))
    output_audio_tokens: Mapped[int] = mapped_column(server_default=text("0"))
    total_tokens: Mapped[int]
    service_tier: Mapped[str] = mapped_column(server_default=text("'standard'"))
    input_cost: Mapped[Decimal | None]
    output_cost: Mapped[Decimal | None]
    total_cost: Mapped[Decimal | None]
    price_id: Mapped[int | None] = mapped_column(ForeignKey("model_price.id", ondelete="RESTRICT"))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    success: Mapped[bool] = mapped_column(server_default=text("true"))
    error_message: Mapped[str | None]
    request_id: Mapped[str | None]
    # `metadata` is reserved on declarative classes; the column keeps the plain name.
    call_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))

    __table_args__ = (
        CheckConstraint(
            "input_tokens >= 0 AND output_tokens >= 0 AND cached_input_tokens >= 0",
            name="tokens_non_negative",
        ),
        CheckConstraint(
            "cache_write_tokens >= 0 AND cache_write_1h_tokens >= 0 AND input_audio_tokens >= 0"
            " AND cached_audio_tokens >= 0 AND reasoning_tokens >= 0 AND output_audio_tokens >= 0",
            name="token_details_non_negative",
        ),
        CheckConstraint("cached_input_tokens <= input_tokens", name="cached_within_input"),
        CheckConstraint(
            "cache_write_1h_tokens <= cache_write_tokens"
            " AND cached_audio_tokens <= cached_input_tokens AND cached_audio_tokens <= input_audio_tokens"
            " AND cached_input_tokens + cache_write_tokens + input_audio_tokens - cached_audio_tokens"
            " <= input_tokens"
            " AND reasoning_tokens <= output_tokens AND output_audio_tokens <= output_tokens",
            name="token_parts_within_totals",
        ),
        CheckConstraint("total_tokens = input_tokens + output_tokens", name="total_tokens_sum"),
        CheckConstraint("duration_ms IS NULL OR duration_ms >= 0", name="duration_non_negative"),
        CheckConstraint(
            "(price_id IS NULL AND input_cost IS NULL AND output_cost IS NULL AND total_cost IS NULL)"
            " OR (price_id IS NOT NULL AND total_cost = input_cost + output_cost)",
            name="costs_priced_together",
        ),
        Index(None, "timestamp"),
        Index(None, "company_id", "timestamp"),
        Index(None, "user_id", "timestamp"),
        Index(None, "assistant_id", "timestamp"),
        Index(None, "model", "timestamp"),
        Index(None, "provider", "timestamp"),
        Index(None, "endpoint", "timestamp"),
        Index(None, "total_cost"),
        Index("ix_llm_call_log_failed", "timestamp", postgresql_where=text("NOT success")),
        Index("ix_llm_call_log_unpriced", "timestamp", postgresql_where=text("price_id IS NULL")),
        {"postgresql_partition_by": "RANGE (timestamp)"},
    )


class CallRequestKey(Base):
    """An idempotency key taken by a stored call: (company, requestId) → the call it stored."""

    __tablename__ = "llm_call_request"

    company_id: Mapped[str] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(primary_key=True)
    call_id: Mapped[int]
    call_timestamp: Mapped[datetime] = mapped_column(index=True)  # the call's partition; retention
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
