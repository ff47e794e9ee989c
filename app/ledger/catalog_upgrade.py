"""What upgrading the bundled catalog would change: the price rows it adds, changes and ends
(:func:`app.pricing.store.catalog_diff`) and how much the last days' spend would move if the
affected calls were repriced — measured by syncing and repricing inside a savepoint that is then
rolled back, so the figure is the ledger's own repricing, not an estimate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from app.ledger.reprice import Repricer, RepriceScope
from app.pricing.store import CatalogDiff, catalog_diff, sync_catalog


@dataclass(frozen=True)
class Impact:
    since: datetime
    calls: int  # calls of the affected models in the period
    old_total: Decimal
    new_total: Decimal


@dataclass(frozen=True)
class Upgrade:
    diff: CatalogDiff
    impact: Impact


def plan_upgrade(session: Session, *, now: datetime, days: int = 30) -> Upgrade:
    """The catalog diff and the spend impact over the last `days`; nothing is kept."""
    diff = catalog_diff(session)
    since = now - timedelta(days=days)
    savepoint = session.begin_nested()
    try:
        sync_catalog(session)
        repricer = Repricer(session, RepriceScope(since=since, include_priced=True, canonical_models=diff.models))
        result = repricer.run()
        impact = Impact(since, repricer.pending, result.old_total, result.new_total)
    finally:
        savepoint.rollback()
    return Upgrade(diff, impact)
