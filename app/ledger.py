"""Validated calls → priced rows → idempotent insert.

`Ledger.record` takes a list of calls (one call is a list of one) and, in the caller's
transaction:

1. stamps calls that came without a timestamp with the time of ingest;
2. folds retries inside the batch onto their first occurrence;
3. takes each idempotency key (``company_id, request_id``) with a pre-allocated call id —
   ``INSERT … ON CONFLICT DO NOTHING`` in key order, so a concurrent retry waits for the first
   writer and then sees its call, and two batches never deadlock on each other's keys;
4. prices the calls whose key it won (the price in force at each call's timestamp) and inserts
   them; a call with no price is stored unpriced, with a warning;
5. returns, in input order, each call's stored row and whether it was a duplicate.

Nothing is committed here: the request or command that owns the transaction commits.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.models import CallRequestKey, LlmCall
from app.pricing import PriceBook
from app.pricing.usage import usage_of
from app.records import CallRecord, IngestResult, NewCall

log = logging.getLogger(__name__)

# o1, o1-mini, o3-pro-2025-06-10, openai/o3 … but not gpt-4o or o4-mini.
REASONING_MODEL = re.compile(r"^(?:[\w.-]+/)?o[13](?:$|[-.])", re.IGNORECASE)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Ledger:
    def __init__(self, session: Session, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._session = session
        self._clock = clock

    def record(self, calls: Sequence[NewCall]) -> list[IngestResult]:
        if not calls:
            return []
        now = self._clock()
        calls = [call if call.timestamp else replace(call, timestamp=now) for call in calls]

        # Retries within the batch resolve to the first call with the same key.
        owner = list(range(len(calls)))
        first_seen: dict[tuple[str, str], int] = {}
        for index, call in enumerate(calls):
            if call.request_id is not None:
                owner[index] = first_seen.setdefault((call.company_id, call.request_id), index)
        fresh = [index for index in range(len(calls)) if owner[index] == index]
        call_ids = dict(zip(fresh, self._allocate_ids(len(fresh)), strict=True))

        earlier = self._take_keys(calls, fresh, call_ids)
        to_insert = [index for index in fresh if index not in earlier]
        stored = self._insert(calls, to_insert, call_ids)
        if earlier:
            rows = self._session.scalars(select(LlmCall).where(LlmCall.id.in_(set(earlier.values()))))
            stored.update({row.id: CallRecord.from_row(row) for row in rows})

        results = []
        for index in range(len(calls)):
            first = owner[index]
            if first in earlier:
                results.append(IngestResult(stored[earlier[first]], duplicate=True))
            else:
                results.append(IngestResult(stored[call_ids[first]], duplicate=first != index))
        return results

    def _allocate_ids(self, count: int) -> list[int]:
        if not count:
            return []
        sequence = func.pg_get_serial_sequence(LlmCall.__tablename__, "id")
        return list(self._session.scalars(select(func.nextval(sequence)).select_from(func.generate_series(1, count))))

    def _take_keys(self, calls: Sequence[NewCall], fresh: list[int], call_ids: dict[int, int]) -> dict[int, int]:
        """Claim idempotency keys; return {index: id of the call stored earlier} for keys already taken."""
        keyed = sorted(
            ((calls[i].company_id, calls[i].request_id), i) for i in fresh if calls[i].request_id is not None
        )
        if not keyed:
            return {}
        values = [{"company_id": c, "request_id": r, "call_id": call_ids[i]} for (c, r), i in keyed]
        won = set(
            self._session.execute(
                pg_insert(CallRequestKey)
                .values(values)
                .on_conflict_do_nothing()
                .returning(CallRequestKey.company_id, CallRequestKey.request_id)
            )
        )
        lost = {key: index for key, index in keyed if key not in won}
        if not lost:
            return {}
        rows = self._session.execute(
            select(CallRequestKey.company_id, CallRequestKey.request_id, CallRequestKey.call_id).where(
                tuple_(CallRequestKey.company_id, CallRequestKey.request_id).in_(list(lost))
            )
        )
        return {lost[(company, request)]: call_id for company, request, call_id in rows}

    def _insert(self, calls: Sequence[NewCall], indexes: list[int], call_ids: dict[int, int]) -> dict[int, CallRecord]:
        if not indexes:
            return {}
        book = PriceBook(self._session)
        values = [self._row(calls[i], call_ids[i], book) for i in indexes]
        rows = self._session.scalars(insert(LlmCall).returning(LlmCall, sort_by_parameter_order=True), values)
        stored = {row.id: CallRecord.from_row(row) for row in rows}
        for record in stored.values():
            _log_call(record)
        return stored

    @staticmethod
    def _row(call: NewCall, call_id: int, book: PriceBook) -> dict[str, Any]:
        assert call.timestamp is not None
        price, cost = book.cost_of(call) or (None, None)
        return {
            "id": call_id,
            "timestamp": call.timestamp,
            "company_id": call.company_id,
            "user_id": call.user_id,
            "assistant_id": call.assistant_id,
            "assistant_name": call.assistant_name,
            "endpoint": call.endpoint,
            "provider": call.provider,
            "model": call.model,
            **usage_of(call).as_dict(),
            "total_tokens": call.input_tokens + call.output_tokens,
            "service_tier": call.service_tier,
            "input_cost": cost.input_cost if cost else None,
            "output_cost": cost.output_cost if cost else None,
            "total_cost": cost.total_cost if cost else None,
            "price_id": price.id if price else None,
            "duration_ms": call.duration_ms,
            "success": call.success,
            "error_message": call.error,
            "request_id": call.request_id,
            "call_metadata": call.metadata,
        }


def format_cost(cost: Decimal | None) -> str:
    if cost is None:
        return "unpriced"
    if 0 < cost < Decimal("0.0001"):
        return f"${cost:.8f}"
    return f"${cost:.4f}"


def _log_call(call: CallRecord) -> None:
    assistant = call.assistant_name or call.assistant_id or "-"
    log.info(
        "[CostTracking] Company: %s | Assistant: %s | Model: %s | Tokens: %s | Cost: %s",
        call.company_id, assistant, call.model, f"{call.total_tokens:,}", format_cost(call.total_cost),
    )
    if not call.priced:
        log.warning(
            "[CostTracking] No price for %s/%s at %s: call %d stored unpriced; "
            "add a price and run `flask costs reprice`",
            call.provider, call.model, call.timestamp.isoformat(), call.id,
        )
    if REASONING_MODEL.match(call.model):
        duration = f"{call.duration_ms:,} ms" if call.duration_ms is not None else "unknown duration"
        log.warning(
            "[CostTracking] Slow reasoning model: %s took %s (Company: %s | Assistant: %s); "
            "prefer a faster model where deep reasoning is not needed",
            call.model, duration, call.company_id, assistant,
        )
