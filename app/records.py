"""Plain values the services return; ORM rows never leave the service that loaded them.

A call's token counts are one field per token type (:data:`app.token_types.TOKEN_TYPES`), made
from that table; every field is keyword-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.models import LlmCall
from app.token_types import TOKEN_TYPES


def _tokens(*, defaults: bool) -> list[tuple[str, type, Any]]:
    """A dataclass field per token type (the parts default to 0 on a new call)."""
    return [(t.name, int, field(default=0)) if defaults and not t.required else (t.name, int, field())
            for t in TOKEN_TYPES]


# A validated call as a client reported it (before pricing).
NewCall = make_dataclass("NewCall", [
    ("provider", str, field()),
    ("model", str, field()),
    ("company_id", str, field()),
    *_tokens(defaults=True),
    ("service_tier", str, field(default="standard")),
    ("duration_ms", int | None, field(default=None)),
    ("success", bool, field(default=True)),
    ("error", str | None, field(default=None)),
    ("user_id", str | None, field(default=None)),
    ("endpoint", str | None, field(default=None)),
    ("assistant_id", str | None, field(default=None)),
    ("assistant_name", str | None, field(default=None)),
    ("timestamp", datetime | None, field(default=None)),  # None: the ledger stamps the time of ingest
    ("request_id", str | None, field(default=None)),
    ("metadata", dict[str, Any], field(default_factory=dict)),
    ("api_key_id", int | None, field(default=None)),  # the key that sent it (set by the server, not the client)
], frozen=True, kw_only=True)


class _CallRecord:
    """Behaviour of :class:`CallRecord`: a stored call, as read back from `llm_call_log`."""

    @property
    def priced(self) -> bool:
        return self.price_id is not None  # type: ignore[attr-defined]

    @classmethod
    def from_row(cls, row: LlmCall) -> CallRecord:
        renamed = {"error": row.error_message, "metadata": row.call_metadata}
        return cls(**{name: renamed[name] if name in renamed else getattr(row, name)
                      for name in cls.__dataclass_fields__})  # type: ignore[attr-defined]

    @classmethod
    def from_values(cls, values: dict[str, Any], recorded_at: datetime) -> CallRecord:
        """A call from the column values it was written with (``error_message``, ``metadata``…)."""
        values = values | {"recorded_at": recorded_at, "error": values["error_message"]}
        return cls(**{name: values[name] for name in cls.__dataclass_fields__})  # type: ignore[attr-defined]


CallRecord = make_dataclass("CallRecord", [
    ("id", int), ("timestamp", datetime), ("recorded_at", datetime), ("company_id", str),
    ("user_id", str | None), ("assistant_id", str | None), ("assistant_name", str | None),
    ("endpoint", str | None), ("provider", str), ("model", str),
    *[(name, kind) for name, kind, _ in _tokens(defaults=False)],
    ("total_tokens", int), ("service_tier", str),
    ("input_cost", Decimal | None), ("output_cost", Decimal | None), ("total_cost", Decimal | None),
    ("price_id", int | None), ("unpriced_reason", str | None), ("duration_ms", int | None), ("success", bool),
    ("error", str | None),
    ("request_id", str | None), ("metadata", dict[str, Any]),
], bases=(_CallRecord,), frozen=True, kw_only=True)


NewCall.__module__ = CallRecord.__module__ = __name__


@dataclass(frozen=True)
class BudgetState:
    """A budget's spend in one period, right after a write (or a check) — what is left of its limit."""

    budget_id: int
    period: str
    period_start: datetime
    resets_at: datetime  # the period's end: the next period's start
    spent: Decimal
    limit: Decimal

    @property
    def remaining(self) -> Decimal:
        return max(self.limit - self.spent, Decimal(0))

    @property
    def exceeded(self) -> bool:
        return self.spent >= self.limit


@dataclass(frozen=True)
class AlertRecord:
    """A threshold a budget crossed in one period, with its spend right after the crossing."""

    id: int
    company_id: str
    budget_id: int | None
    threshold: int
    period_start: datetime
    spent: Decimal
    limit: Decimal


@dataclass(frozen=True)
class IngestResult:
    """What happened to one submitted call: stored now, or a retry of one stored before (`differs`:
    the fields in which the retry disagrees with the stored call, which is kept as it was)."""

    call: CallRecord
    duplicate: bool
    differs: tuple[str, ...] = ()
    budgets: tuple[BudgetState, ...] = ()  # the budgets a stored call counts against (none for a retry)


# The fields of a call a client sends, compared between a retry and the call stored under its key
# (the timestamp only when the retry carried one: without it the ledger stamps the time of ingest).
_COMPARED = tuple(name for name in NewCall.__dataclass_fields__
                  if name not in ("timestamp", "request_id", "api_key_id"))


def differences(retry: NewCall, stored: CallRecord) -> tuple[str, ...]:
    """The fields (as named in Python) in which a retry differs from the call stored before."""
    differs = [name for name in _COMPARED if getattr(retry, name) != getattr(stored, name)]
    if retry.timestamp is not None and retry.timestamp != stored.timestamp:
        differs.insert(0, "timestamp")
    return tuple(differs)