"""Who changed a price, and how: the `price_change` audit trail (written by the database itself,
:mod:`app.models.price_history`), and naming the actor of the writes of a transaction."""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, select, text
from sqlalchemy.orm import Session

from app.models import PriceChange
from app.pricing.store import shown_to

# The price columns a change shows (the rest of a row — ids, timestamps — is kept in the JSON).
SHOWN = ("service_tier", "kind", "company_id", "valid_from", "window_start", "window_end", "input_per_mtok",
         "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok", "cache_write_1h_per_mtok",
         "input_audio_per_mtok", "cached_audio_per_mtok", "output_audio_per_mtok", "tiers", "source")


def set_actor(session: Session, actor: str) -> None:
    """Name who makes this transaction's price writes (read by the trigger that records them)."""
    session.execute(text("SELECT set_config('ledger.actor', :actor, true)"), {"actor": actor[:200]})


def cli_actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli {user}"


@dataclass(frozen=True)
class Change:
    id: int
    changed_at: datetime
    actor: str
    action: str
    price_id: int
    provider: str
    model: str
    company_id: str | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None

    @property
    def differences(self) -> dict[str, tuple[Any, Any]]:
        """Shown column → (old, new), for the columns that differ (all of a new or deleted row)."""
        old, new = self.old or {}, self.new or {}
        return {name: (old.get(name), new.get(name)) for name in SHOWN if old.get(name) != new.get(name)}


def list_changes(session: Session, *, provider: str | None = None, model: str | None = None,
                 company_id: str | None = None, limit: int = 100) -> list[Change]:
    """The latest changes first; without `company_id` the global prices' only, with it those and
    that company's."""
    # The row images as text, read with exact decimals (JSON numbers would come back as floats).
    query = (select(PriceChange, PriceChange.old.cast(Text).label("old_text"),
                    PriceChange.new.cast(Text).label("new_text"))
             .order_by(PriceChange.id.desc()).limit(limit))
    if provider:
        query = query.where(PriceChange.provider == provider)
    if model:
        query = query.where(PriceChange.model == model)
    query = query.where(shown_to(PriceChange.company_id, company_id))
    changes = []
    for row, old, new in session.execute(query):
        values = {name: getattr(row, name) for name in Change.__dataclass_fields__}
        values |= {"old": _exact(old), "new": _exact(new)}
        changes.append(Change(**values))
    return changes


def _exact(document: str | None) -> dict[str, Any] | None:
    return None if document is None else json.loads(document, parse_float=Decimal)
