"""Negotiated rates: operator price overrides, global or for one company, and LiteLLM price files.

An override is a `model_price` row of kind ``override``. It applies from its ``valid_from``
until a later override for the same provider, model, tier and company; it wins over the catalog,
and a company's over a global one (see :class:`app.pricing.PriceBook`). Setting the same
override twice updates it in place. Model names are stored as the catalog names them when the
catalog knows the model (so ``gpt-4o-2024-08-06`` and ``gpt-4o`` share one override), else as given.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from decimal import Decimal
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db import money_problem
from app.models import ModelPrice
from app.pricing import catalog
from app.pricing.catalog import SERVICE_TIERS, TokenPrices
from app.pricing.cost import engine_price
from app.pricing.store import INSERTED, PriceRef
from app.token_types import PRICE_NAMES, PRICE_TYPES

MILLION = Decimal(1_000_000)


class OverrideError(ValueError):
    """An override that cannot be stored; the message names the problem, `fields` the REST fields."""

    def __init__(self, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


def engine_problem(prices: TokenPrices) -> OverrideError | None:
    """Why the cost engine (genai-prices) would refuse these prices — e.g. prices for two token
    types that overlap (1-hour cache writes of audio input) without the price of their overlap —
    checked when a price is written, so that no stored price can fail the calls it applies to."""
    try:
        engine_price(prices)
    except (ValueError, ArithmeticError, TypeError) as exc:
        named = tuple(price.json for price in PRICE_TYPES if price.genai.replace("_mtok", "_tokens") in str(exc))
        return OverrideError(f"the cost engine cannot use these prices: {exc}", named)
    return None


@dataclass(frozen=True, kw_only=True)
class Override:
    provider: str
    model: str
    valid_from: datetime
    prices: TokenPrices
    company_id: str | None = None
    service_tier: str = "standard"
    source: str = "manual"
    # A daily window (UTC, [start, end), wrapping past midnight): the override applies only while a
    # call's time of day is inside it; None: all day.
    window_start: time | None = None
    window_end: time | None = None
    window_zone: str | None = None  # IANA zone of the window's times; None: UTC


def canonical_model(provider: str, model: str) -> tuple[str, str]:
    """(provider, model) as price rows name them: the catalog's ids when it knows the model."""
    resolved = catalog.resolve(provider, model)
    if resolved:
        return resolved
    provider_id = catalog.normalise_provider(provider)
    return provider_id, catalog.normalise_model(provider_id, model)


@dataclass(frozen=True)
class StoredOverride:
    price: PriceRef
    created: bool  # False: an override with the same key existed, and its prices were replaced


def set_override(session: Session, override: Override) -> PriceRef:
    """Store (or update in place) one override; returns the stored row."""
    return upsert_override(session, override).price


def _price_problem(value: Decimal, where: str) -> str | None:
    if value < 0:
        return f"{where} must not be negative"
    if problem := money_problem(value):
        return f"{where} {problem}"
    return None


def upsert_override(session: Session, override: Override) -> StoredOverride:
    """Store one override, or replace the prices of the one with the same provider, model,
    tier, company and ``valid_from``; says which it did."""
    if override.valid_from.tzinfo is None:
        raise OverrideError("valid_from must be timezone-aware")
    if override.service_tier not in SERVICE_TIERS:
        raise OverrideError(f"unknown service tier {override.service_tier!r}; use one of {', '.join(SERVICE_TIERS)}")
    prices = override.prices
    if prices.input_per_mtok is None and prices.output_per_mtok is None:
        raise OverrideError("an override needs at least an input or an output price")
    for column in PRICE_NAMES:
        value = getattr(prices, column)
        if value is not None and (problem := _price_problem(value, column)):
            raise OverrideError(problem)
    for column, tiers in prices.tiers.items():
        if column not in PRICE_NAMES or getattr(prices, column) is None:
            raise OverrideError(f"tiers given for {column}, which has no base price")
        if any(int(t["start"]) <= 0 for t in tiers):
            raise OverrideError(f"tiers of {column} need positive starts")
        for step in tiers:
            if problem := _price_problem(Decimal(step["price"]), f"tier price of {column}"):
                raise OverrideError(problem)
    if (override.window_start is None) != (override.window_end is None):
        raise OverrideError("a window needs both its start and its end", ("windowStart", "windowEnd"))
    if override.window_zone is not None:
        if override.window_start is None:
            raise OverrideError("a time zone needs a window", ("windowZone",))
        try:
            ZoneInfo(override.window_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise OverrideError(f"unknown time zone {override.window_zone!r} (use an IANA name such as "
                                "Asia/Shanghai)", ("windowZone",)) from None
    if override.window_start is not None and override.window_start == override.window_end:
        raise OverrideError("a window's start and end must differ (omit the window for all day)",
                            ("windowStart", "windowEnd"))
    if problem := engine_problem(prices):
        raise problem
    provider, model = canonical_model(override.provider, override.model)
    values = asdict(prices) | {
        "provider": provider, "model": model, "valid_from": override.valid_from, "kind": "override",
        "company_id": override.company_id, "service_tier": override.service_tier, "source": override.source,
        "window_start": override.window_start, "window_end": override.window_end,
        "window_zone": override.window_zone,
    }
    stmt = insert(ModelPrice).values(values)
    stmt = stmt.on_conflict_do_update(
        constraint="uq_model_price_key",
        set_={name: stmt.excluded[name] for name in (*PRICE_NAMES, "tiers", "source")},
    ).returning(ModelPrice, INSERTED)
    row, inserted = session.execute(stmt, execution_options={"populate_existing": True}).one()
    return StoredOverride(PriceRef.from_row(row), created=inserted)


# --- LiteLLM's model_prices_and_context_window.json ------------------------------------------

# LiteLLM per-token key → our per-million column.
LITELLM_KEYS = {price.litellm: price.name for price in PRICE_TYPES}
# Suffixes LiteLLM uses for service-tier prices (``input_cost_per_token_batches``, …).
LITELLM_TIER_SUFFIXES = {"batches": "batch", "flex": "flex", "priority": "priority"}
_ABOVE = re.compile(r"^(?P<key>.+)_above_(?P<k>\d+)k_tokens$")
PRICED_MODES = {None, "chat", "completion", "responses", "embedding", "audio_transcription", "audio_speech"}
LITELLM_PROVIDERS = {"vertex_ai-language-models": "google", "vertex_ai": "google", "gemini": "google",
                     "text-completion-openai": "openai"}


@dataclass
class ImportResult:
    stored: list[PriceRef] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # entry name → why


def _per_mtok(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise OverrideError(f"{where}: expected a number, got {value!r}")
    if value < 0:
        raise OverrideError(f"{where}: must not be negative")
    return (Decimal(value) * MILLION).normalize()


def entry_overrides(name: str, entry: dict[str, Any], valid_from: datetime, company_id: str | None,
                     source: str) -> list[Override]:
    """The overrides (one per service tier) one LiteLLM entry's per-token prices make."""
    raw_provider = entry.get("litellm_provider")
    if not isinstance(raw_provider, str):
        raise OverrideError("no litellm_provider")
    provider = LITELLM_PROVIDERS.get(raw_provider, raw_provider)
    model = name.split("/", 1)[1] if name.startswith(f"{raw_provider}/") else name
    per_tier: dict[str, dict[str, Any]] = {}
    tiers: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for key, value in entry.items():
        tier = "standard"
        for suffix, tier_name in LITELLM_TIER_SUFFIXES.items():
            if key.endswith(f"_{suffix}") and key[: -len(suffix) - 1] in LITELLM_KEYS:
                key, tier = key[: -len(suffix) - 1], tier_name
        if key in LITELLM_KEYS:
            per_tier.setdefault(tier, {})[LITELLM_KEYS[key]] = _per_mtok(value, f"{name}.{key}")
        elif (above := _ABOVE.match(key)) and above["key"] in LITELLM_KEYS:
            column = LITELLM_KEYS[above["key"]]
            start = int(above["k"]) * 1000
            tiers.setdefault(tier, {}).setdefault(column, []).append(
                {"start": start, "price": str(_per_mtok(value, f"{name}.{key}"))})
    if "standard" not in per_tier:
        raise OverrideError("no per-token prices")
    overrides = []
    for tier, columns in per_tier.items():
        base = per_tier["standard"] if tier != "standard" else {}
        merged = base | columns  # a tier's missing rates fall back to the standard ones
        tier_tiers = {column: sorted(steps, key=lambda s: s["start"])
                      for column, steps in tiers.get(tier, {}).items() if column in merged}
        overrides.append(Override(provider=provider, model=model, valid_from=valid_from, company_id=company_id,
                                  service_tier=tier, source=source,
                                  prices=TokenPrices(**merged, tiers=tier_tiers)))
    return overrides


def import_litellm(session: Session, document: dict[str, Any], *, valid_from: datetime,
                   company_id: str | None = None, source: str = "litellm") -> ImportResult:
    """Store every priced entry of a LiteLLM price file as overrides from `valid_from`.

    Parse the file with ``json.loads(text, parse_float=Decimal)`` so per-token prices such as
    ``2.5e-06`` stay exact. Entries without per-token prices (images, rerankers, the
    ``sample_spec`` entry) are skipped, each with its reason.
    """
    if not isinstance(document, dict):
        raise OverrideError("a LiteLLM price file is a JSON object of model entries")
    result = ImportResult()
    for name, entry in document.items():
        if name == "sample_spec":
            continue
        if not isinstance(entry, dict):
            result.skipped[name] = "not an object"
            continue
        if entry.get("mode") not in PRICED_MODES:
            result.skipped[name] = f"mode {entry.get('mode')!r} is not priced per token"
            continue
        try:
            overrides = entry_overrides(name, entry, valid_from, company_id, source)
        except OverrideError as exc:
            result.skipped[name] = str(exc)
            continue
        result.stored.extend(set_override(session, override) for override in overrides)
    return result
