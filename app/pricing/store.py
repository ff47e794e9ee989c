"""The `model_price` table: catalog sync, listings, and the price in force at a given time."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import literal_column, or_, select, tuple_
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.orm import Session

from app.models import ModelPrice
from app.pricing import catalog
from app.pricing.cost import CallCost, compute_cost, to_genai
from app.pricing.usage import TokenUsage, usage_of

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
    stmt = stmt.where(or_(ModelPrice.company_id.is_(None), ModelPrice.company_id == company_id)
                      if company_id else ModelPrice.company_id.is_(None))
    identity = (ModelPrice.provider, ModelPrice.model, ModelPrice.service_tier, ModelPrice.kind,
                ModelPrice.company_id)
    if at is not None:
        stmt = (
            stmt.where(ModelPrice.valid_from <= at)
            .ext(distinct_on(*identity))
            .order_by(*identity, ModelPrice.valid_from.desc())
        )
    else:
        stmt = stmt.order_by(*identity, ModelPrice.valid_from)
    return [PriceRef.from_row(row) for row in session.scalars(stmt)]


class PriceBook:
    """Answers "which price applies to this call", caching per instance (one unit of work).

    The model name as sent is resolved through the catalog's matching rules (dated snapshots,
    aliases, ``models/`` prefixes); if the catalog does not know it, rows stored under the name
    as sent are used. Among the rows in force at the call's time (latest ``valid_from <= T``),
    the first found wins, in this order:

    1. the call's service tier before the standard tier (a batch call uses batch prices);
    2. within a tier: the call's company's override, then a global override, then the catalog.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._histories: dict[tuple[str, str], dict[tuple[str, str | None, str], _History]] = {}
        self._engine_prices: dict[int, Any] = {}  # price id → the catalog engine's form of it

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
        if price is None:
            return None
        if price.id not in self._engine_prices:
            self._engine_prices[price.id] = to_genai(price)
        cost = compute_cost(price, usage, self._engine_prices[price.id])
        return (price, cost) if cost is not None else None

    def cost_of(self, call: Any) -> tuple[PriceRef, CallCost] | None:
        """:meth:`cost_at` for anything with a call's fields (a new call, a stored row)."""
        return self.cost_at(call.provider, call.model, call.timestamp, usage_of(call), company_id=call.company_id,
                            service_tier=call.service_tier)

    def _histories_for(self, provider: str, model: str) -> dict[tuple[str, str | None, str], _History]:
        key = (provider, model)
        if key not in self._histories:
            candidates = []
            resolved = catalog.resolve(provider, model)
            if resolved:
                candidates.append(resolved)
            provider_id = catalog.normalise_provider(provider)
            candidates.append((provider_id, catalog.normalise_model(provider_id, model)))
            rows = self._session.scalars(
                select(ModelPrice)
                .where(tuple_(ModelPrice.provider, ModelPrice.model).in_(candidates))
                .order_by(ModelPrice.valid_from)
            ).all()
            by_name: dict[tuple[str, str], list[PriceRef]] = {}
            for row in rows:
                by_name.setdefault((row.provider, row.model), []).append(PriceRef.from_row(row))
            prices = next((by_name[c] for c in candidates if c in by_name), [])
            grouped: dict[tuple[str, str | None, str], _History] = {}
            for price in prices:
                grouped.setdefault((price.kind, price.company_id, price.service_tier), _History()).add(price)
            self._histories[key] = grouped
        return self._histories[key]


class _History:
    """Prices of one (kind, company, tier), oldest first."""

    def __init__(self) -> None:
        self.starts: list[datetime] = []
        self.prices: list[PriceRef] = []

    def add(self, price: PriceRef) -> None:
        self.starts.append(price.valid_from)
        self.prices.append(price)

    def at(self, moment: datetime) -> PriceRef | None:
        position = bisect_right(self.starts, moment)
        return self.prices[position - 1] if position else None
