"""Validated calls → priced rows → idempotent insert, with the daily rollup kept in step.

`Ledger.record` takes a list of calls (one call is a list of one) and, in the caller's
transaction:

1. stamps calls that came without a timestamp with the time of ingest;
2. folds retries inside the batch onto their first occurrence;
3. prices each call with the price that applies at its timestamp (a call with no price is kept
   unpriced, with a warning), from the process's :class:`~app.pricing.PriceCache` when given one;
4. runs **one statement** over the calls — COPYed first into a session-local staging table for
   a batch of more than `COPY_ABOVE` calls, or passed as one array per column for fewer (a
   single call costs one round trip) — that draws the call ids, claims the idempotency keys
   (``INSERT … SELECT … ON CONFLICT DO NOTHING``, in key order so that concurrent batches never
   deadlock and a concurrent retry waits for the first writer), inserts the calls whose key it
   won (or that have none) into the partitioned log, and adds them to the rollups
   (:mod:`app.ledger.rollups`) and to the budgets they count against, recording the alerts that
   crosses (:mod:`app.ledger.budget_spend`). With a price cache the statement writes nothing unless the price epoch
   (`app.models.price_epoch`) is still the one the calls were priced at; they are then priced
   again with fresh prices;
5. returns, in input order, each call's stored row and whether it was a duplicate; once the
   owner of the transaction has committed, :meth:`Ledger.committed` hands the calls stored to
   the after-write hook (:mod:`app.ledger.after_write`).

Nothing is committed here: the request or command that owns the transaction commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import Text, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app.ledger import budget_spend, rollups
from app.ledger.after_write import AfterWrite, log_calls
from app.models import CallRequestKey, LlmCall
from app.partitions import PartitionKeeper
from app.pricing import PriceBook, PriceCache, PricesChanged
from app.pricing.catalog import canonical
from app.pricing.usage import usage_of
from app.records import AlertRecord, CallRecord, IngestResult, NewCall, differences
from app.token_types import TOKEN_NAMES, TOTAL_TOKENS

log = logging.getLogger(__name__)

STAGING = "llm_call_staging"
# Batches of more calls than this are COPYed into the staging table; smaller ones travel in the
# ingest statement itself (one array per column; a single call as plain values): one round trip.
COPY_ABOVE = 64
# Retries when the prices changed between pricing and writing (a price edit at that instant).
PRICING_ATTEMPTS = 5
# Columns of a staged call, in COPY and array order; the id is drawn from the log's own sequence
# by the ingest statement (recorded_at comes from the database clock).
COLUMNS = ("timestamp", "company_id", "user_id", "assistant_id", "assistant_name", "endpoint", "provider",
           "model", "canonical_provider", "canonical_model", *TOKEN_NAMES, TOTAL_TOKENS, "service_tier",
           "input_cost", "output_cost", "total_cost", "price_id", "unpriced_reason", "duration_ms", "success",
           "error_message",
           "request_id", "api_key_id", "metadata")
_COLUMN_LIST = ", ".join(f'"{name}"' for name in COLUMNS)
_STAGED = ", ".join(f'"{name}"' for name in ("id", *COLUMNS))
_RETURNED = ", ".join(f'"{name}"' for name in dict.fromkeys((*rollups.SOURCE_COLUMNS, *budget_spend.SOURCE_COLUMNS)))
_ROLLED = ",\n".join((*rollups.ingest_ctes("ins"), *budget_spend.ingest_ctes("ins")))
# `ord` is the call's position in the batch. `staged` draws ids only if the price epoch ($1) is
# still the one the calls were priced at (NULL: not checked); otherwise it is empty, nothing is
# written, and the first column comes back NULL. Statements are run by a psycopg RawCursor
# ($n placeholders, sent as they are): psycopg does not cache the conversion of %(name)s
# placeholders for statements this long, and would parse the text on every call.
_INGEST = f"""
staged AS MATERIALIZED (
    SELECT nextval(CAST((SELECT pg_get_serial_sequence('llm_call_log', 'id')) AS regclass)) AS id, s.*
    FROM {STAGING} s
    WHERE $1::bigint IS NULL OR (SELECT max(epoch) FROM price_epoch) = $1::bigint
), keys AS (
    INSERT INTO llm_call_request (company_id, request_id, call_id, call_timestamp)
    SELECT company_id, request_id, id, timestamp FROM staged
    WHERE request_id IS NOT NULL ORDER BY company_id, request_id
    ON CONFLICT DO NOTHING
    RETURNING call_id
), ins AS (
    INSERT INTO llm_call_log ({_STAGED})
    SELECT {_STAGED} FROM staged s
    WHERE s.request_id IS NULL OR s.id IN (SELECT call_id FROM keys)
    RETURNING {_RETURNED}
), {_ROLLED}
SELECT (SELECT array_agg(id ORDER BY ord) FROM staged), coalesce((SELECT array_agg(call_id) FROM keys), '{{}}'),
       now(), (SELECT max(epoch) FROM price_epoch),
       {budget_spend.INGEST_RESULT}
"""
# The calls COPYed into the session's staging table …
INGEST_STAGED_SQL = "WITH " + _INGEST
# … or passed as one array per column ($2, $3, …), under the same name …
_TYPES = {name: LlmCall.__table__.c[name].type.compile(dialect=postgresql.dialect()) for name in COLUMNS}
_ARRAYS = ", ".join(f"${n}::{_TYPES[name]}[]" for n, name in enumerate(COLUMNS, start=2))
INGEST_ARRAYS_SQL = (f"WITH {STAGING} AS (SELECT * FROM unnest({_ARRAYS}) WITH ORDINALITY AS t({_COLUMN_LIST}, ord)),"
                     + _INGEST)
# … or, for one call, as plain values.
_VALUES = ", ".join(f'${n}::{_TYPES[name]} AS "{name}"' for n, name in enumerate(COLUMNS, start=2))
INGEST_ONE_SQL = f"WITH {STAGING} AS (SELECT {_VALUES}, 1::bigint AS ord)," + _INGEST
CREATE_STAGING_SQL = (f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} ON COMMIT DELETE ROWS AS "
                      f"SELECT {_COLUMN_LIST}, 0::bigint AS ord FROM llm_call_log WITH NO DATA")

def utc_now() -> datetime:
    return datetime.now(UTC)


class Ledger:
    def __init__(self, session: Session, *, prices: PriceCache | None = None,
                 partitions: PartitionKeeper | None = None,
                 clock: Callable[[], datetime] = utc_now, after_write: AfterWrite = log_calls) -> None:
        self._session = session
        self._prices = prices
        self._partitions = partitions
        self._clock = clock
        self._after_write = after_write
        #: The budget alerts the last :meth:`record` recorded (app.ledger.budget_spend).
        self.alerts: list[AlertRecord] = []

    def record(self, calls: Sequence[NewCall]) -> list[IngestResult]:
        if not calls:
            return []
        now = self._clock()
        sent = calls
        calls = [call if call.timestamp else replace(call, timestamp=now) for call in calls]
        if self._partitions is not None:  # the months these calls need, before they arrive
            self._partitions.ensure(call.timestamp for call in calls)

        # Retries within the batch resolve to the first call with the same key.
        owner = list(range(len(calls)))
        first_seen: dict[tuple[str, str], int] = {}
        for index, call in enumerate(calls):
            if call.request_id is not None:
                owner[index] = first_seen.setdefault((call.company_id, call.request_id), index)
        fresh = [index for index in range(len(calls)) if owner[index] == index]
        rows, ids, won, recorded_at, states, counted, alert_rows = self._price_and_write(
            [calls[index] for index in fresh])
        budgets = budget_spend.states_by_call(states, counted)
        self.alerts = budget_spend.alerts_of(alert_rows)

        won = set(won)
        stored: dict[int, CallRecord] = {}
        for index, row, call_id in zip(fresh, rows, ids, strict=True):
            if row["request_id"] is None or call_id in won:
                stored[index] = CallRecord.from_values(row | {"id": call_id}, recorded_at)
        earlier = self._earlier({(calls[i].company_id, calls[i].request_id): i for i in fresh if i not in stored})

        results = []
        for index in range(len(calls)):
            first = owner[index]
            if first in stored and first == index:
                call = stored[first]
                results.append(IngestResult(call, duplicate=False, budgets=tuple(budgets.get(call.id, ()))))
                continue
            original = stored[first] if first in stored else earlier[first]
            differs = differences(sent[index], original)
            if differs:
                log.warning("Retry of call %s (company %r, requestId %r) differs from the stored call in %s; "
                            "the stored call is kept", original.id, original.company_id, original.request_id,
                            ", ".join(differs))
            results.append(IngestResult(original, duplicate=True, differs=differs))
        return results

    def committed(self, results: Sequence[IngestResult]) -> None:
        """Hand the calls `results` stored (not the duplicates) and the alerts the write recorded to
        the after-write hook; the owner of the transaction calls this once it has committed (no
        lock held while the hook runs, and nothing announced that a rollback then undid)."""
        self._after_write([result.call for result in results if not result.duplicate], self.alerts)

    def _price_and_write(self, calls: list[NewCall]) -> tuple[Any, ...]:
        """Price the calls and run the ingest statement: (rows, call ids, ids whose key was won,
        the database's now(), what it did to budgets: :data:`budget_spend.INGEST_RESULT`). With a price cache, pricing starts over if the prices changed
        since the cache read them (the statement then writes nothing)."""
        for _ in range(PRICING_ATTEMPTS):
            book = PriceBook(self._session, self._prices)
            try:
                rows = [_row(call, book) for call in calls]
            except PricesChanged:
                assert self._prices is not None
                self._prices.invalidate()
                continue
            ids, won, recorded_at, _, *budgets = self._write(rows, book.epoch if self._prices else None)
            if ids is not None:
                return rows, ids, won, recorded_at, *budgets
            assert self._prices is not None
            self._prices.invalidate()
        raise RuntimeError(f"prices changed {PRICING_ATTEMPTS} times while these calls were being priced")

    def _write(self, rows: list[dict[str, Any]], epoch: int | None) -> tuple[Any, ...]:
        """Run the ingest statement over `rows` (see the module docstring); epoch None: unchecked."""
        raw = self._session.connection().connection.driver_connection
        with psycopg.RawCursor(raw) as cursor:
            if len(rows) > COPY_ABOVE:
                # The table lives as long as the connection (made again if the transaction that
                # made it rolled back) and empties itself at each commit; emptied here too, for
                # the next batch of the same transaction.
                cursor.execute(CREATE_STAGING_SQL)
                with cursor.copy(f"COPY {STAGING} ({_COLUMN_LIST}, ord) FROM STDIN") as copy:
                    for position, row in enumerate(rows):
                        copy.write_row([*(row[name] for name in COLUMNS[:-1]), Jsonb(row["metadata"]), position])
                result = cursor.execute(INGEST_STAGED_SQL, [epoch]).fetchone()
                cursor.execute(f"TRUNCATE {STAGING}")
                return result
            if len(rows) == 1:
                [row] = rows
                values = [row[name] for name in COLUMNS[:-1]]
                return cursor.execute(INGEST_ONE_SQL, [epoch, *values, Jsonb(row["metadata"])]).fetchone()
            arrays = [[row[name] for row in rows] for name in COLUMNS[:-1]]
            metadata = [Jsonb(row["metadata"]) for row in rows]
            return cursor.execute(INGEST_ARRAYS_SQL, [epoch, *arrays, metadata]).fetchone()

    def _earlier(self, lost: dict[tuple[str, str], int]) -> dict[int, CallRecord]:
        """The calls stored before under keys this batch lost, by the index of the call that lost."""
        if not lost:
            return {}
        # The keys travel as two arrays (one parameter each, whatever their number: a list of
        # 10,000 (company, requestId) pairs in an IN clause overflows PostgreSQL's parser stack).
        companies, requests = zip(*lost, strict=True)
        texts = postgresql.ARRAY(Text)
        wanted = func.unnest(bindparam("companies", list(companies), type_=texts),
                             bindparam("requests", list(requests), type_=texts)).table_valued(
            "company_id", "request_id").render_derived(name="wanted")
        rows = self._session.execute(
            select(CallRequestKey.company_id, CallRequestKey.request_id, LlmCall)
            .join(wanted, (wanted.c.company_id == CallRequestKey.company_id)
                  & (wanted.c.request_id == CallRequestKey.request_id))
            .join(LlmCall, (LlmCall.id == CallRequestKey.call_id) & (LlmCall.timestamp == CallRequestKey.call_timestamp))
        )
        return {lost[(company, request)]: CallRecord.from_row(call) for company, request, call in rows}


def _row(call: NewCall, book: PriceBook) -> dict[str, Any]:
    """The values a call is staged with, priced by `book` (its id comes from the ingest statement)."""
    assert call.timestamp is not None
    price, cost = book.cost_of(call) or (None, None)
    canonical_provider, canonical_model = canonical(call.provider, call.model)
    return {
        "timestamp": call.timestamp,
        "company_id": call.company_id,
        "user_id": call.user_id,
        "assistant_id": call.assistant_id,
        "assistant_name": call.assistant_name,
        "endpoint": call.endpoint,
        "provider": call.provider,
        "model": call.model,
        "canonical_provider": canonical_provider,
        "canonical_model": canonical_model,
        **usage_of(call).as_dict(),
        "total_tokens": call.input_tokens + call.output_tokens,
        "service_tier": call.service_tier,
        "input_cost": cost.input_cost if cost else None,
        "output_cost": cost.output_cost if cost else None,
        "total_cost": cost.total_cost if cost else None,
        "price_id": price.id if price else None,
        "unpriced_reason": None if price else book.unpriced_reason(call),
        "duration_ms": call.duration_ms,
        "success": call.success,
        "error_message": call.error,
        "request_id": call.request_id,
        "api_key_id": call.api_key_id,
        "metadata": call.metadata,
    }
