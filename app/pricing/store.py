"""The `model_price` table: catalog sync, listings, and the price in force at a given time."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import and_, literal_column, or_, select, tuple_
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.orm import Session

from app.models import ModelPrice
from app.pricing import catalog
from app.pricing.cost import CallCost, compute_cost

# In RETURNING of an upsert, xmax = 0 marks a row the statement inserted rather than updated.
_INSERTED = literal_column("(xmax = 0)").label("inserted")
PRICE_COLUMNS = ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok")


@dataclass(frozen=True)
class PriceRef(catalog.CatalogPrice):
    """One row of `model_price`, as a plain value: a dated price plus its id and source."""

    id: int
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
    """Upsert every catalog price; rows an operator entered (another source) are never touched."""
    rows = [asdict(price) | {"source": catalog.CATALOG_SOURCE} for price in catalog.catalog_prices()]
    stmt = insert(ModelPrice).values(rows)
    changed = or_(*(ModelPrice.__table__.c[name].is_distinct_from(stmt.excluded[name]) for name in PRICE_COLUMNS))
    stmt = stmt.on_conflict_do_update(
        constraint="uq_model_price_provider_model_valid_from",
        set_={name: stmt.excluded[name] for name in (*PRICE_COLUMNS, "source")},
        where=and_(ModelPrice.source.startswith("genai-prices"), changed),
    ).returning(ModelPrice.id, _INSERTED)
    results = session.execute(stmt).all()
    added = sum(1 for _, inserted in results if inserted)
    updated = len(results) - added
    return SyncResult(catalog.CATALOG_SOURCE, added=added, updated=updated, unchanged=len(rows) - len(results))


def list_prices(
    session: Session, *, provider: str | None = None, model: str | None = None, at: datetime | None = None
) -> list[PriceRef]:
    """Prices, optionally for one provider/model; with `at`, only the rows in force at that time."""
    stmt = select(ModelPrice)
    if provider:
        stmt = stmt.where(ModelPrice.provider == catalog.normalise_provider(provider))
    if model:
        stmt = stmt.where(ModelPrice.model == model)
    if at is not None:
        stmt = (
            stmt.where(ModelPrice.valid_from <= at)
            .ext(distinct_on(ModelPrice.provider, ModelPrice.model))
            .order_by(ModelPrice.provider, ModelPrice.model, ModelPrice.valid_from.desc())
        )
    else:
        stmt = stmt.order_by(ModelPrice.provider, ModelPrice.model, ModelPrice.valid_from)
    return [PriceRef.from_row(row) for row in session.scalars(stmt)]


class PriceBook:
    """Answers "which price was in force for this provider/model at time T", caching per instance.

    A model name is first resolved through the catalog's matching rules (dated snapshots,
    aliases, ``models/`` prefixes); if the catalog does not know it, prices an operator stored
    under the name as sent are used. One instance serves one unit of work (a request, a batch).
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._history: dict[tuple[str, str], tuple[list[datetime], list[PriceRef]]] = {}

    def price_at(self, provider: str, model: str, at: datetime) -> PriceRef | None:
        starts, prices = self._history_for(provider, model)
        position = bisect_right(starts, at)
        return prices[position - 1] if position else None

    def cost_at(
        self, provider: str, model: str, at: datetime, *, input_tokens: int, cached_input_tokens: int,
        output_tokens: int,
    ) -> tuple[PriceRef, CallCost] | None:
        """The price in force at `at` and the tokens' cost at it; None when the call cannot be priced.

        Used by the ledger at ingest and by repricing, so a call is priced the same way by both.
        """
        price = self.price_at(provider, model, at)
        if price is None:
            return None
        cost = compute_cost(price, input_tokens=input_tokens, cached_input_tokens=cached_input_tokens,
                            output_tokens=output_tokens)
        return (price, cost) if cost is not None else None

    def _history_for(self, provider: str, model: str) -> tuple[list[datetime], list[PriceRef]]:
        key = (provider, model)
        if key not in self._history:
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
            by_key: dict[tuple[str, str], list[PriceRef]] = {}
            for row in rows:
                by_key.setdefault((row.provider, row.model), []).append(PriceRef.from_row(row))
            prices = next((by_key[c] for c in candidates if c in by_key), [])
            self._history[key] = ([p.valid_from for p in prices], prices)
        return self._history[key]
