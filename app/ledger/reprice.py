"""Repricing: bring stored calls' costs in line with the price table.

A call stored while its model had no price is unpriced (``price_id`` and costs NULL). Once an
operator adds the price (or a catalog upgrade brings it), :class:`Repricer` prices such calls with
the price in force at each call's timestamp — through :meth:`PriceBook.cost_at`, exactly as the
ledger prices a call at ingest. With ``include_priced`` it also recomputes calls that already
have costs (after a price was corrected), and writes only rows whose price or costs change.

Work goes in batches by ascending id (keyset, never OFFSET), up to the highest id that existed
when the run started, so calls ingested meanwhile are left to the ledger. The service commits
nothing: :meth:`Repricer.batches` yields after each batch, and the caller commits between
batches. Running it again changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, false, func, select, tuple_, update
from sqlalchemy.orm import Session

from app.ledger import budget_spend, dimensions, rollups
from app.models import LlmCall
from app.pricing.store import PriceBook
from app.pricing.usage import GENAI_KEYS
from app.records import AlertRecord

DEFAULT_BATCH_SIZE = 5_000
ZERO = Decimal(0)


@dataclass(frozen=True)
class RepriceScope:
    """Which calls to reprice: a time range ``[since, until)``, a model and company as stored."""

    since: datetime | None = None
    until: datetime | None = None
    model: str | None = None
    company: str | None = None
    include_priced: bool = False  # False: unpriced calls only; True: every call in the range
    canonical_models: tuple[tuple[str, str], ...] | None = None  # only calls of these (provider, model) ids

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions = []
        if self.since is not None:
            conditions.append(LlmCall.timestamp >= self.since)
        if self.until is not None:
            conditions.append(LlmCall.timestamp < self.until)
        if self.model is not None:
            conditions.append(LlmCall.model == self.model)
        if self.company is not None:
            conditions.append(LlmCall.company_id == self.company)
        if self.canonical_models is not None:
            conditions.append(tuple_(LlmCall.canonical_provider, LlmCall.canonical_model).in_(self.canonical_models)
                              if self.canonical_models else false())
        return conditions


@dataclass(frozen=True)
class RepriceBatch:
    """What one batch did. Totals are of the batch's calls, unpriced ones counting as zero."""

    examined: int
    newly_priced: int  # unpriced → priced
    repriced: int  # priced → other price or other costs
    unpriced: int  # priced → no price in force any more (e.g. a price's start was corrected)
    still_unpriced: Counter[tuple[str, str, str]]  # (provider, model, reason) → calls left without a price
    old_total: Decimal
    new_total: Decimal


@dataclass(frozen=True)
class RepriceResult:
    """The whole run. ``old_total``/``new_total``: cost of every call in the scope's range,
    before and after (in the default mode, already-priced calls count in both)."""

    examined: int = 0
    newly_priced: int = 0
    repriced: int = 0
    unpriced: int = 0
    still_unpriced_by_model: dict[tuple[str, str, str], int] = field(default_factory=dict)  # with the reason
    old_total: Decimal = ZERO
    new_total: Decimal = ZERO

    @property
    def still_unpriced(self) -> int:
        return sum(self.still_unpriced_by_model.values())

    @property
    def changed(self) -> int:
        return self.newly_priced + self.repriced + self.unpriced

    def plus(self, batch: RepriceBatch) -> RepriceResult:
        missing = Counter(self.still_unpriced_by_model) + batch.still_unpriced
        return replace(
            self,
            examined=self.examined + batch.examined,
            newly_priced=self.newly_priced + batch.newly_priced,
            repriced=self.repriced + batch.repriced,
            unpriced=self.unpriced + batch.unpriced,
            still_unpriced_by_model=dict(sorted(missing.items())),
            old_total=self.old_total + batch.old_total,
            new_total=self.new_total + batch.new_total,
        )


_COST_COLUMNS = ("price_id", "input_cost", "output_cost", "total_cost", "unpriced_reason")
# What repricing reads of a call: what prices it (names as sent, tokens) and its rollup keys.
_READ = tuple(dict.fromkeys(("provider", "model", *(c for c in rollups.SOURCE_COLUMNS
                                                    if c not in ("timestamp", "metadata")),
                             "api_key_id", *GENAI_KEYS, *_COST_COLUMNS)))


class Repricer:
    """One repricing run over a scope. Construct, read :attr:`pending`, iterate :meth:`batches`.

    After the iteration, :attr:`result` holds the totals of the run.
    """

    def __init__(self, session: Session, scope: RepriceScope, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._session = session
        self._scope = scope
        self._batch_size = batch_size
        self._max_id = session.scalar(select(func.max(LlmCall.id))) or 0
        self._selection = [*scope.conditions(), LlmCall.id <= self._max_id]
        if not scope.include_priced:
            self._selection.append(LlmCall.price_id.is_(None))
        #: How many calls the run will examine (for a progress bar).
        self.pending: int = session.scalar(select(func.count()).select_from(LlmCall).where(*self._selection)) or 0
        baseline = ZERO
        if not scope.include_priced:  # priced calls in range are not examined, but are part of its cost
            baseline = session.scalar(
                select(func.coalesce(func.sum(LlmCall.total_cost), 0)).where(
                    *scope.conditions(), LlmCall.id <= self._max_id, LlmCall.price_id.is_not(None)
                )
            )
        self.result = RepriceResult(old_total=baseline, new_total=baseline)
        #: The budget alerts the run's cost changes recorded so far (app.ledger.budget_spend).
        self.alerts: list[AlertRecord] = []

    def batches(self) -> Iterator[RepriceBatch]:
        """Reprice batch after batch; each is written (not committed) before it is yielded."""
        after_id = 0
        while True:
            # The promoted keys this batch's corrections go to; a dimension being promoted meanwhile
            # recounts its days only once this transaction ends (app/ledger/dimensions.py).
            promoted = dimensions.promoted_keys_for_write(self._session)
            rows = self._session.execute(
                select(
                    LlmCall.id, LlmCall.timestamp, LlmCall.service_tier,
                    *(LlmCall.__table__.c[column] for column in _READ),
                    *(LlmCall.call_metadata.op("->>")(key).label(f"promoted_{n}") for n, key in enumerate(promoted)),
                )
                .where(*self._selection, LlmCall.id > after_id)
                .order_by(LlmCall.id)
                .limit(self._batch_size)
            ).all()
            if not rows:
                return
            batch = self._reprice(rows, promoted)
            self.result = self.result.plus(batch)
            after_id = rows[-1].id
            yield batch

    def run(self) -> RepriceResult:
        """All batches in the caller's transaction, without pausing between them."""
        for _ in self.batches():
            pass
        return self.result

    def _reprice(self, rows: list[Any], promoted: list[str]) -> RepriceBatch:
        book = PriceBook(self._session)
        changes: list[dict[str, Any]] = []
        rollup_changes: list[rollups.CostChange] = []
        budget_changes: list[budget_spend.CallCostChange] = []
        newly_priced = repriced = unpriced = 0
        missing: Counter[tuple[str, str]] = Counter()
        old_total = new_total = ZERO
        for row in rows:
            priced = book.cost_of(row)
            if priced is None:
                new = dict.fromkeys(_COST_COLUMNS) | {"unpriced_reason": book.unpriced_reason(row)}
                missing[(row.provider, row.model, new["unpriced_reason"])] += 1
            else:
                price, cost = priced
                new = {"price_id": price.id, "input_cost": cost.input_cost, "output_cost": cost.output_cost,
                       "total_cost": cost.total_cost, "unpriced_reason": None}
            old_total += row.total_cost or ZERO
            new_total += new["total_cost"] or ZERO
            if all(getattr(row, column) == new[column] for column in _COST_COLUMNS):
                continue
            changes.append({"id": row.id, "timestamp": row.timestamp, "company_id": row.company_id, **new})
            if row.price_id is None and new["price_id"] is None:
                continue  # still unpriced: only the reason is new
            rollup_changes.append(rollups.CostChange(
                row=row,
                unpriced_calls=(new["price_id"] is None) - (row.price_id is None),
                **{name: (new[name] or ZERO) - (getattr(row, name) or ZERO)
                   for name in ("input_cost", "output_cost", "total_cost")},
                promoted={key: getattr(row, f"promoted_{n}") for n, key in enumerate(promoted)},
            ))
            budget_changes.append(budget_spend.CallCostChange(
                timestamp=row.timestamp, company_id=row.company_id, user_id=row.user_id,
                assistant_id=row.assistant_id, endpoint=row.endpoint, canonical_model=row.canonical_model,
                api_key_id=row.api_key_id, delta=(new["total_cost"] or ZERO) - (row.total_cost or ZERO)))
            if row.price_id is None:
                newly_priced += 1
            elif new["price_id"] is None:
                unpriced += 1
            else:
                repriced += 1
        if changes:
            # bulk UPDATE by primary key (id, timestamp, company_id): the timestamp finds the partition
            self._session.execute(update(LlmCall), changes)
            rollups.apply_cost_changes(self._session, rollup_changes)
            self.alerts += budget_spend.apply_cost_changes(self._session, budget_changes)
        return RepriceBatch(
            examined=len(rows), newly_priced=newly_priced, repriced=repriced, unpriced=unpriced,
            still_unpriced=missing, old_total=old_total, new_total=new_total,
        )
