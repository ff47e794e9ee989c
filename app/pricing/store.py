"""The `model_price` table: catalog sync, listings, and the price in force at a given time."""

from __future__ import annotations

import logging
import threading
from bisect import bisect_right
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal_column, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.models import ModelPrice, PriceEpoch
from app.pricing import catalog
from app.pricing.cost import CallCost, compute_cost, engine_price
from app.pricing.usage import TokenUsage, usage_of

log = logging.getLogger(__name__)

# In RETURNING of an upsert, xmax = 0 marks a row the statement inserted rather than updated.
INSERTED = literal_column("(xmax = 0)").label("inserted")
# Columns an upsert of the catalog may change; everything else is the row's identity.
SYNCED_COLUMNS = (*catalog.PRICE_KEYS, "tiers")
# Stay well under PostgreSQL's 65,535 bind parameters per statement.
SYNC_CHUNK = 1_000
STANDARD = "standard"


@dataclass(frozen=True, kw_only=True)
class PriceRef(catalog.CatalogPrice):
    """One row of `model_price`, as a plain value: a dated price plus its identity and origin."""

    id: int
    kind: str = "catalog"
    company_id: str | None = None
    source: str

    @classmethod
    def from_row(cls, row: ModelPrice) -> PriceRef:
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class SyncResult:
    source: str
    added: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class CatalogDiff:
    """What syncing the bundled catalog would do to the stored catalog rows."""

    added: list[catalog.CatalogPrice]
    changed: list[tuple[PriceRef, catalog.CatalogPrice]]  # (stored, bundled)
    ended: list[PriceRef]  # stored, no longer in the bundle (kept: calls may reference them)

    @property
    def models(self) -> tuple[tuple[str, str], ...]:
        """The (provider, model) ids whose prices would be added or change."""
        return tuple(sorted({(p.provider, p.model) for p in self.added}
                            | {(new.provider, new.model) for _, new in self.changed}))


def _catalog_key(price: catalog.CatalogPrice) -> tuple:
    return (price.provider, price.model, price.service_tier, price.valid_from, price.window_start, price.window_end)


def catalog_diff(session: Session) -> CatalogDiff:
    bundled = {_catalog_key(price): price for price in catalog.catalog_prices()}
    stored = {_catalog_key(row): row for row in (PriceRef.from_row(r) for r in session.scalars(
        select(ModelPrice).where(ModelPrice.kind == "catalog")))}
    changed = []
    for key, new in bundled.items():
        old = stored.get(key)
        if old is not None and any(getattr(old, name) != getattr(new, name) for name in SYNCED_COLUMNS):
            changed.append((old, new))
    return CatalogDiff(added=[price for key, price in bundled.items() if key not in stored], changed=changed,
                       ended=[row for key, row in stored.items() if key not in bundled])


def sync_catalog(session: Session) -> SyncResult:
    """Upsert every catalog price; override rows (an operator's) are never touched."""
    rows = [asdict(price) | {"source": catalog.CATALOG_SOURCE, "kind": "catalog"}
            for price in catalog.catalog_prices()]
    added = updated = 0
    for start in range(0, len(rows), SYNC_CHUNK):
        stmt = insert(ModelPrice).values(rows[start : start + SYNC_CHUNK])
        changed = or_(*(ModelPrice.__table__.c[name].is_distinct_from(stmt.excluded[name])
                        for name in SYNCED_COLUMNS))
        stmt = stmt.on_conflict_do_update(
            constraint="uq_model_price_key",
            set_={name: stmt.excluded[name] for name in (*SYNCED_COLUMNS, "source")},
            where=changed,
        ).returning(ModelPrice.id, INSERTED)
        results = session.execute(stmt).all()
        inserted = sum(1 for _, is_new in results if is_new)
        added += inserted
        updated += len(results) - inserted
    return SyncResult(catalog.CATALOG_SOURCE, added=added, updated=updated, unchanged=len(rows) - added - updated)


def shown_to(company_column: Any, company_id: str | None) -> Any:
    """Global prices (no company), and with `company_id` that company's overrides too."""
    global_ = company_column.is_(None)
    return or_(global_, company_column == company_id) if company_id else global_


def list_prices(
    session: Session, *, provider: str | None = None, model: str | None = None, at: datetime | None = None,
    company_id: str | None = None, service_tier: str | None = None,
) -> list[PriceRef]:
    """Price rows, optionally for one provider/model/tier/company; with `at`, only those in force then.

    Without `company_id`, company overrides are left out; with it, they are shown beside the
    global rows (which one a call uses is :class:`PriceBook`'s precedence).
    """
    stmt = select(ModelPrice)
    if provider:
        stmt = stmt.where(ModelPrice.provider == catalog.normalise_provider(provider))
    if model:
        stmt = stmt.where(ModelPrice.model == model)
    if service_tier:
        stmt = stmt.where(ModelPrice.service_tier == service_tier)
    stmt = stmt.where(shown_to(ModelPrice.company_id, company_id))
    identity = (ModelPrice.provider, ModelPrice.model, ModelPrice.service_tier, ModelPrice.kind,
                ModelPrice.company_id)
    stmt = stmt.order_by(*identity, ModelPrice.valid_from, ModelPrice.window_start.nulls_first())
    rows = [PriceRef.from_row(row) for row in session.scalars(stmt)]
    if at is None:
        return rows
    # In force at `at`: per identity, the latest start's all-day price or the window `at` falls in.
    histories: dict[tuple, _History] = {}
    for row in rows:
        if row.valid_from <= at:
            histories.setdefault((row.provider, row.model, row.service_tier, row.kind, row.company_id),
                                 _History()).add(row)
    return [price for history in histories.values() if (price := history.at(at)) is not None]


class PricesChanged(Exception):
    """A price book found prices read at two different epochs: price the unit of work again."""


Histories = dict[tuple[str, str | None, str], "_History"]  # (kind, company, tier) → dated prices


def _load_histories(session: Session, provider: str, model: str) -> tuple[int | None, Histories]:
    """The price epoch and the histories of the rows stored for a model name as sent.

    One statement, so the epoch and the rows come from the same snapshot (the epoch is NULL only
    if its row was deleted by hand; nothing is then cached).
    """
    candidates = []
    resolved = catalog.resolve(provider, model)
    if resolved:
        candidates.append(resolved)
    provider_id = catalog.normalise_provider(provider)
    candidates.append((provider_id, catalog.normalise_model(provider_id, model)))
    epoch = select(func.max(PriceEpoch.epoch).label("epoch")).subquery()
    rows = session.execute(
        select(epoch.c.epoch, ModelPrice)
        .select_from(epoch)
        .outerjoin(ModelPrice, tuple_(ModelPrice.provider, ModelPrice.model).in_(candidates))
        .order_by(ModelPrice.valid_from)
    ).all()
    by_name: dict[tuple[str, str], list[PriceRef]] = {}
    for _, row in rows:
        if row is not None:
            by_name.setdefault((row.provider, row.model), []).append(PriceRef.from_row(row))
    prices = next((by_name[c] for c in candidates if c in by_name), [])
    grouped: Histories = {}
    for price in prices:
        grouped.setdefault((price.kind, price.company_id, price.service_tier), _History()).add(price)
    return rows[0].epoch, grouped


class PriceCache:
    """Price histories read by this process, all at one price epoch (see `app.models.price_epoch`).

    Shared by the requests of a process (thread-safe). A hit is not checked against the database
    here: whoever writes with these prices checks that the epoch is still current in the same
    statement (:mod:`app.ledger`) and calls :meth:`invalidate` when it is not. At most
    `max_models` model names are kept (clients may send any name); past that the cache starts over.
    """

    def __init__(self, max_models: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._max_models = max_models
        self.epoch: int | None = None
        self._histories: dict[tuple[str, str], Histories] = {}
        self._engine_prices: dict[int, Any] = {}

    def histories(self, session: Session, provider: str, model: str) -> tuple[int | None, Histories]:
        key = (provider, model)
        with self._lock:
            epoch, found = self.epoch, self._histories.get(key)
        if found is not None:
            return epoch, found
        epoch, found = _load_histories(session, provider, model)
        with self._lock:
            if epoch is not None:
                if epoch != self.epoch or len(self._histories) >= self._max_models:
                    self._histories, self._engine_prices, self.epoch = {}, {}, epoch
                self._histories[key] = found
        return epoch, found

    def engine_price(self, price: PriceRef, epoch: int | None) -> Any:
        """The genai engine's form of `price` (built once per price and epoch)."""
        with self._lock:
            if epoch is not None and epoch == self.epoch and price.id in self._engine_prices:
                return self._engine_prices[price.id]
        engine = engine_price(price)
        with self._lock:
            if epoch is not None and epoch == self.epoch:
                self._engine_prices[price.id] = engine
        return engine

    def invalidate(self) -> None:
        with self._lock:
            self._histories, self._engine_prices, self.epoch = {}, {}, None


class PriceBook:
    """Answers "which price applies to this call", for one unit of work.

    The model name as sent is resolved through the catalog's matching rules (dated snapshots,
    aliases, ``models/`` prefixes); if the catalog does not know it, rows stored under the name
    as sent are used. Among the rows in force at the call's time (latest ``valid_from <= T``),
    the first found wins, in this order:

    1. the call's service tier before the standard tier (a batch call uses batch prices);
    2. within a tier: the call's company's override, then a global override, then the catalog.

    Without a `cache` the book reads prices in its session and keeps them for its own life.
    With one, it takes them from the process's :class:`PriceCache`; :attr:`epoch` is then the
    price epoch they were all read at, and :class:`PricesChanged` is raised if they were not all
    read at the same one.
    """

    def __init__(self, session: Session, cache: PriceCache | None = None) -> None:
        self._session = session
        self._cache = cache
        self._histories: dict[tuple[str, str], Histories] = {}
        self._engine_prices: dict[int, Any] = {}  # price id → the catalog engine's form of it
        self._refused: dict[int, str] = {}  # price id → why the engine refused it
        self.epoch: int | None = None
        self._epoch_known = False

    def price_at(
        self, provider: str, model: str, at: datetime, *, company_id: str | None = None,
        service_tier: str = STANDARD,
    ) -> PriceRef | None:
        histories = self._histories_for(provider, model)
        levels = dict.fromkeys([("override", company_id), ("override", None), ("catalog", None)])
        for tier in dict.fromkeys([service_tier, STANDARD]):
            for kind, company in levels:
                history = histories.get((kind, company, tier))
                if history and (price := history.at(at)):
                    return price
        return None

    def cost_at(
        self, provider: str, model: str, at: datetime, usage: TokenUsage, *, company_id: str | None = None,
        service_tier: str = STANDARD,
    ) -> tuple[PriceRef, CallCost] | None:
        """The price that applies and the call's cost at it; None when the call cannot be priced.

        Used by the ledger at ingest and by repricing, so a call is priced the same way by both.
        """
        price = self.price_at(provider, model, at, company_id=company_id, service_tier=service_tier)
        if price is None or price.id in self._refused:
            return None
        try:
            if price.id not in self._engine_prices:
                self._engine_prices[price.id] = (self._cache.engine_price(price, self.epoch) if self._cache
                                                 else engine_price(price))
            cost = compute_cost(price, usage, self._engine_prices[price.id])
        except (ValueError, ArithmeticError, TypeError) as exc:
            # A stored price the engine cannot use (written before prices were checked, or by
            # hand): the call is kept unpriced with the reason, never refused.
            log.error("Price %s (%s/%s) refused by the cost engine: %s; its calls are stored unpriced",
                      price.id, price.provider, price.model, exc)
            self._refused[price.id] = str(exc)
            return None
        return (price, cost) if cost is not None else None

    def unpriced_reason(self, call: Any) -> str:
        """Why :meth:`cost_of` found no cost for `call` (asked only for calls it did not price)."""
        price = self.price_at(call.provider, call.model, call.timestamp, company_id=call.company_id,
                              service_tier=call.service_tier)
        if price is None:
            return f"no price for {call.provider}/{call.model} ({call.service_tier}) at the call's time"
        if price.id in self._refused:
            return f"price {price.id} refused by the cost engine: {self._refused[price.id]}"
        return f"price {price.id} has no rate for the input or output tokens used"

    def cost_of(self, call: Any) -> tuple[PriceRef, CallCost] | None:
        """:meth:`cost_at` for anything with a call's fields (a new call, a stored row)."""
        return self.cost_at(call.provider, call.model, call.timestamp, usage_of(call), company_id=call.company_id,
                            service_tier=call.service_tier)

    def _histories_for(self, provider: str, model: str) -> Histories:
        key = (provider, model)
        if key not in self._histories:
            if self._cache is None:
                _, self._histories[key] = _load_histories(self._session, provider, model)
            else:
                epoch, self._histories[key] = self._cache.histories(self._session, provider, model)
                if not self._epoch_known:
                    self.epoch, self._epoch_known = epoch, True
                elif epoch != self.epoch:
                    raise PricesChanged(f"prices changed while pricing (epoch {self.epoch} → {epoch})")
        return self._histories[key]


class _History:
    """Prices of one (kind, company, tier), added oldest first: per `valid_from`, the all-day
    price and the prices of daily time windows, which replace it while a call's time of day is
    inside them."""

    def __init__(self) -> None:
        self.starts: list[datetime] = []
        self.prices: list[PriceRef | None] = []  # the all-day price from each start (None: windows only)
        self.windows: list[list[PriceRef]] = []

    def add(self, price: PriceRef) -> None:
        if not self.starts or self.starts[-1] != price.valid_from:
            self.starts.append(price.valid_from)
            self.prices.append(None)
            self.windows.append([])
        if price.window_start is None:
            self.prices[-1] = price
        else:
            self.windows[-1].append(price)

    def at(self, moment: datetime) -> PriceRef | None:
        position = bisect_right(self.starts, moment)
        if not position:
            return None
        for windowed in self.windows[position - 1]:
            if windowed.in_window(moment):
                return windowed
        return self.prices[position - 1]
