"""`llm_call_log`: one row per LLM API call, and `llm_call_request`: the idempotency keys.

Column names of `llm_call_log` keep the seed schema's (``id, model, provider, input_tokens, …,
timestamp, duration_ms, success``) so existing BI queries run unchanged. There is one token
column per token type of :data:`app.token_types.TOKEN_TYPES` (a total includes its parts).
``provider`` and ``model`` are kept as the client sent them; ``canonical_provider`` and
``canonical_model`` are the names the call is grouped and filtered under
(:func:`app.pricing.catalog.canonical`: ``claude-sonnet-4-5-20250929`` → ``claude-sonnet-4-5``).
A call with no known price has ``price_id``, ``input_cost``, ``output_cost`` and ``total_cost``
all NULL (unpriced) until `flask costs reprice` prices it.

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
from app.token_types import TOKEN_NAMES, TOKEN_TYPES


def _token_columns() -> type:
    """A mixin with one column per token type: the two totals required, the parts 0 by default."""
    annotations = {token.name: Mapped[int] for token in TOKEN_TYPES}
    columns = {token.name: mapped_column() if token.required else mapped_column(server_default=text("0"))
               for token in TOKEN_TYPES}
    return type("TokenColumns", (), {"__annotations__": annotations, **columns})


def _within_totals() -> str:
    """Each part at most each total it is part of, and the input's parts (overlapping only where
    cached audio is both cached and audio) at most the input."""
    checks = [f"{token.name} <= {total}" for token in TOKEN_TYPES for total in token.within
              if (token.name, total) != ("cached_input_tokens", "input_tokens")]  # its own constraint
    parts = [token.name for token in TOKEN_TYPES if token.within == ("input_tokens",)]
    overlap = [token.name for token in TOKEN_TYPES if len(token.within) > 1 and set(token.within) <= set(parts)]
    checks.append(" + ".join(parts) + "".join(f" - {name}" for name in overlap) + " <= input_tokens")
    return " AND ".join(checks)


# The first three token types were checked by migration 0001, the others by 0002: two constraints.
_FIRST = TOKEN_NAMES[:3]


class LlmCall(_token_columns(), Base):
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
    canonical_provider: Mapped[str]
    canonical_model: Mapped[str]
    total_tokens: Mapped[int]
    service_tier: Mapped[str] = mapped_column(server_default=text("'standard'"))
    input_cost: Mapped[Decimal | None]
    output_cost: Mapped[Decimal | None]
    total_cost: Mapped[Decimal | None]
    price_id: Mapped[int | None] = mapped_column(ForeignKey("model_price.id", ondelete="RESTRICT"))
    # Why an unpriced call has no price (app.pricing.PriceBook.unpriced_reason); NULL when priced.
    unpriced_reason: Mapped[str | None]
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    success: Mapped[bool] = mapped_column(server_default=text("true"))
    error_message: Mapped[str | None]
    request_id: Mapped[str | None]
    # The API key that sent the call (budgets may be narrowed to a key); NULL for calls from the CLI.
    api_key_id: Mapped[int | None]
    # `metadata` is reserved on declarative classes; the column keeps the plain name.
    call_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))

    __table_args__ = (
        CheckConstraint(" AND ".join(f"{name} >= 0" for name in _FIRST), name="tokens_non_negative"),
        CheckConstraint(" AND ".join(f"{name} >= 0" for name in TOKEN_NAMES if name not in _FIRST),
                        name="token_details_non_negative"),
        CheckConstraint("cached_input_tokens <= input_tokens", name="cached_within_input"),
        CheckConstraint(_within_totals(), name="token_parts_within_totals"),
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
        Index(None, "canonical_model", "timestamp"),
        Index(None, "canonical_provider", "timestamp"),
        Index(None, "endpoint", "timestamp"),
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
