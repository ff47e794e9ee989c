"""Plain values the services return; ORM rows never leave the service that loaded them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.models import LlmCall


@dataclass(frozen=True)
class NewCall:
    """A validated call as a client reported it (before pricing)."""

    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    company_id: str
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    input_audio_tokens: int = 0
    cached_audio_tokens: int = 0
    reasoning_tokens: int = 0
    output_audio_tokens: int = 0
    service_tier: str = "standard"
    duration_ms: int | None = None
    success: bool = True
    error: str | None = None
    user_id: str | None = None
    endpoint: str | None = None
    assistant_id: str | None = None
    assistant_name: str | None = None
    timestamp: datetime | None = None  # None: the ledger stamps the time of ingest
    request_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallRecord:
    """A stored call, as read back from `llm_call_log`."""

    id: int
    timestamp: datetime
    recorded_at: datetime
    company_id: str
    user_id: str | None
    assistant_id: str | None
    assistant_name: str | None
    endpoint: str | None
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    input_audio_tokens: int
    cached_audio_tokens: int
    reasoning_tokens: int
    output_audio_tokens: int
    total_tokens: int
    service_tier: str
    input_cost: Decimal | None
    output_cost: Decimal | None
    total_cost: Decimal | None
    price_id: int | None
    duration_ms: int | None
    success: bool
    error: str | None
    request_id: str | None
    metadata: dict[str, Any]

    @property
    def priced(self) -> bool:
        return self.price_id is not None

    @classmethod
    def from_row(cls, row: LlmCall) -> CallRecord:
        renamed = {"error": row.error_message, "metadata": row.call_metadata}
        return cls(**{name: renamed[name] if name in renamed else getattr(row, name)
                      for name in cls.__dataclass_fields__})

    @classmethod
    def from_values(cls, values: dict[str, Any], recorded_at: datetime) -> CallRecord:
        """A call from the column values it was written with (``error_message``, ``metadata``…)."""
        values = values | {"recorded_at": recorded_at, "error": values["error_message"]}
        return cls(**{name: values[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class IngestResult:
    """What happened to one submitted call: stored now, or a retry of one stored before."""

    call: CallRecord
    duplicate: bool
