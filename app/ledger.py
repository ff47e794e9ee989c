"""Validated calls → priced rows → idempotent insert, with the daily rollup kept in step.

`Ledger.record` takes a list of calls (one call is a list of one) and, in the caller's
transaction:

1. stamps calls that came without a timestamp with the time of ingest;
2. folds retries inside the batch onto their first occurrence, and pre-allocates call ids;
3. prices each call with the price that applies at its timestamp (a call with no price is kept
   unpriced, with a warning);
4. COPYs the rows into a session-local staging table, then runs **one statement** that claims
   the idempotency keys (``INSERT … SELECT … ON CONFLICT DO NOTHING``, in key order so that
   concurrent batches never deadlock and a concurrent retry waits for the first writer), inserts
   the calls whose key it won (or that have none) into the partitioned log, and adds them to the
   rollups (:mod:`app.rollups`);
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

from psycopg.types.json import Jsonb
from sqlalchemy import func, select, text, tuple_
from sqlalchemy.orm import Session

from app import rollups
from app.models import CallRequestKey, LlmCall
from app.pricing import PriceBook
from app.pricing.usage import usage_of
from app.records import CallRecord, IngestResult, NewCall

STAGING = "llm_call_staging"
# Columns written at ingest, in COPY order (recorded_at comes from the database clock).
COLUMNS = ("id", "timestamp", "company_id", "user_id", "assistant_id", "assistant_name", "endpoint", "provider",
           "model", "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
           "cache_write_1h_tokens", "input_audio_tokens", "cached_audio_tokens", "reasoning_tokens",
           "output_audio_tokens", "total_tokens", "service_tier", "input_cost", "output_cost", "total_cost",
           "price_id", "duration_ms", "success", "error_message", "request_id", "metadata")
_COLUMN_LIST = ", ".join(f'"{name}"' for name in COLUMNS)
_RETURNED = ", ".join(f'"{name}"' for name in rollups.SOURCE_COLUMNS)
_ROLLED = ",\n".join(f"rolled_{n} AS ({rollups.upsert_sql(rollup, 'ins')} RETURNING 1)"
                      for n, rollup in enumerate(rollups.ROLLUPS))
_ROLLED_COUNTS = " + ".join(f"(SELECT count(*) FROM rolled_{n})" for n in range(len(rollups.ROLLUPS)))
INGEST_SQL = f"""
WITH keys AS (
    INSERT INTO llm_call_request (company_id, request_id, call_id, call_timestamp)
    SELECT company_id, request_id, id, timestamp FROM {STAGING}
    WHERE request_id IS NOT NULL ORDER BY company_id, request_id
    ON CONFLICT DO NOTHING
    RETURNING call_id
), ins AS (
    INSERT INTO llm_call_log ({_COLUMN_LIST})
    SELECT {_COLUMN_LIST} FROM {STAGING} s
    WHERE s.request_id IS NULL OR s.id IN (SELECT call_id FROM keys)
    RETURNING {_RETURNED}
), {_ROLLED}
SELECT coalesce((SELECT array_agg(call_id) FROM keys), '{{}}'), now(), {_ROLLED_COUNTS}
"""

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
        book = PriceBook(self._session)
        rows = {index: self._row(calls[index], call_id, book)
                for index, call_id in zip(fresh, self._allocate_ids(len(fresh)), strict=True)}

        self._stage(rows.values())
        won, recorded_at, _ = self._session.execute(text(INGEST_SQL)).one()
        self._session.execute(text(f"DELETE FROM {STAGING}"))
        won = set(won)
        stored = {index: CallRecord.from_values(row, recorded_at) for index, row in rows.items()
                  if row["request_id"] is None or row["id"] in won}
        for record in stored.values():
            _log_call(record)
        earlier = self._earlier({(calls[i].company_id, calls[i].request_id): i for i in rows if i not in stored})

        results = []
        for index in range(len(calls)):
            first = owner[index]
            if first in stored:
                results.append(IngestResult(stored[first], duplicate=first != index))
            else:
                results.append(IngestResult(earlier[first], duplicate=True))
        return results

    def _allocate_ids(self, count: int) -> list[int]:
        if not count:
            return []
        sequence = func.pg_get_serial_sequence(LlmCall.__tablename__, "id")
        return list(self._session.scalars(select(func.nextval(sequence)).select_from(func.generate_series(1, count))))

    def _stage(self, rows) -> None:
        """COPY the rows into this connection's staging table.

        The table lives as long as the connection (it is made again if the transaction that made
        it rolled back) and empties itself at each commit.
        """
        connection = self._session.connection()
        connection.execute(text(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} (LIKE llm_call_log INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"))
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {STAGING} ({_COLUMN_LIST}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([Jsonb(row[name]) if name == "metadata" else row[name] for name in COLUMNS])

    def _earlier(self, lost: dict[tuple[str, str], int]) -> dict[int, CallRecord]:
        """The calls stored before under keys this batch lost, by the index of the call that lost."""
        if not lost:
            return {}
        rows = self._session.execute(
            select(CallRequestKey.company_id, CallRequestKey.request_id, LlmCall)
            .join(LlmCall, (LlmCall.id == CallRequestKey.call_id) & (LlmCall.timestamp == CallRequestKey.call_timestamp))
            .where(tuple_(CallRequestKey.company_id, CallRequestKey.request_id).in_(list(lost)))
        )
        return {lost[(company, request)]: CallRecord.from_row(call) for company, request, call in rows}

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
            "metadata": call.metadata,
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
