"""The `genai-prices` bundled snapshot: dated prices per service tier, and model-name matching.

Only the bundled data is read; the package's updater (which fetches from the internet) is never
started. For each model and service tier, :func:`catalog_prices` evaluates the catalog at every
date where any of its prices changes, and yields one row per change, so that "the row in force
at T" gives exactly the prices the catalog itself would use at T. Threshold tiers (e.g. above
200k input tokens) are kept. Time-of-day prices (off-peak discounts) are left out: the
standard price stands for them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import lru_cache
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo
from decimal import Decimal
from typing import Any

import genai_prices
from genai_prices import data_snapshot, types

from app.token_types import PRICE_NAMES, PRICE_TYPES

CATALOG_SOURCE = f"genai-prices {genai_prices.__version__}"
# Valid-from of a catalog price that has no start date: it applies to every call before the next.
ALWAYS = datetime(1970, 1, 1, tzinfo=UTC)

# Spellings clients use for a provider → the catalog's provider id.
PROVIDER_ALIASES = {
    "gemini": "google",
    "google-ai": "google",
    "google_ai": "google",
    "vertex": "google",
    "vertex_ai": "google",
    "vertexai": "google",
    "claude": "anthropic",
    "bedrock": "aws",
    "aws-bedrock": "aws",
    "azure-openai": "azure",
    "azure_openai": "azure",
    "xai": "x-ai",
    "grok": "x-ai",
    "mistralai": "mistral",
}


# Our price column → the genai-prices price key it holds (per million tokens).
PRICE_KEYS = {price.name: price.genai for price in PRICE_TYPES}

# Our service tiers → the request contexts the catalog selects their prices with (OpenAI's
# fast tier is a `service_tier`, Anthropic's fast mode a `speed`).
SERVICE_TIERS: dict[str, list[dict[str, str]]] = {
    "standard": [],
    "batch": [{"processing": "batch"}],
    "flex": [{"service_tier": "flex"}],
    "priority": [{"service_tier": "priority"}],
    "fast": [{"service_tier": "fast"}, {"speed": "fast"}],
}

Tiers = dict[str, list[dict[str, Any]]]  # column → [{"start": tokens, "price": "decimal string"}]


# One `Decimal | None = None` field per price type (app.token_types.PRICE_TYPES), in its order, then the tiers.
TokenPrices = dataclasses.make_dataclass(
    "TokenPrices",
    [*((name, Decimal | None, field(default=None)) for name in PRICE_NAMES),
     ("tiers", Tiers, field(default_factory=dict))],
    frozen=True, kw_only=True,
    namespace={"__module__": __name__,
               "__doc__": "Per-million-token prices of every billed token type (None: not priced separately)."},
)


@dataclass(frozen=True, kw_only=True)
class CatalogPrice(TokenPrices):
    provider: str
    model: str
    service_tier: str = "standard"
    valid_from: datetime
    # A daily window (UTC times, [start, end), wrapping past midnight) in which this price replaces
    # the one of the same key without a window; None: all day.
    window_start: time | None = None
    window_end: time | None = None
    window_zone: str | None = None  # an IANA zone the window's times are read in; None: UTC

    @property
    def window_text(self) -> str:
        """``01:00-04:00 UTC`` (or the window's zone); empty for an all-day price."""
        if self.window_start is None or self.window_end is None:
            return ""
        return f"{self.window_start:%H:%M}-{self.window_end:%H:%M} {self.window_zone or 'UTC'}"

    def in_window(self, moment: datetime) -> bool:
        """Whether `moment`'s time of day (in the window's zone, UTC by default) is inside this
        price's window (as genai-prices' TimeOfDateConstraint decides for UTC windows)."""
        if self.window_start is None or self.window_end is None:
            return True
        zone = ZoneInfo(self.window_zone) if self.window_zone else UTC
        now = moment.astimezone(zone).time().replace(tzinfo=None)
        if self.window_end < self.window_start:
            return now >= self.window_start or now < self.window_end
        return self.window_start <= now < self.window_end


def normalise_provider(provider: str) -> str:
    key = provider.strip().lower()
    return PROVIDER_ALIASES.get(key, key)


def normalise_model(provider: str, model: str) -> str:
    """Lower-case and strip API path prefixes (``models/gemini-2.5-flash``, ``openai/gpt-4o``)."""
    ref = model.strip().lower()
    for prefix in ("models/", f"{provider}/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
    return ref


def resolve(provider: str, model: str) -> tuple[str, str] | None:
    """The catalog's (provider id, model id) for a provider and model as a client sent them.

    The provider returned is the one whose price list holds the model (a provider may fall back
    to another's models, e.g. Azure to OpenAI's).
    """
    provider_id = normalise_provider(provider)
    ref = normalise_model(provider_id, model)
    snapshot = data_snapshot.get_snapshot()
    try:
        _, found = snapshot.find_provider_model(ref, None, provider_id, None)
    except LookupError:
        return None
    owner = next(p for p in snapshot.providers if any(m is found for m in p.models))
    return owner.id, found.id


@lru_cache(maxsize=65_536)
def canonical(provider: str, model: str) -> tuple[str, str]:
    """The (provider, model) a call is grouped under: the provider's id (``gemini`` → ``google``)
    and the catalog's model id the name resolves to (``claude-sonnet-4-5-20250929`` →
    ``claude-sonnet-4-5``, ``models/gemini-2.5-flash`` → ``gemini-2.5-flash``), or, for a model
    the catalog does not know, the name lower-cased without API path prefixes.

    The provider stays the one the call was made through (Azure's ``gpt-4o`` is ``azure``,
    ``gpt-4o``), so by-provider totals say who billed it and by-model totals put one model in one row.
    """
    provider_id = normalise_provider(provider)
    found = resolve(provider, model)
    return provider_id, found[1] if found else normalise_model(provider_id, model)


def model_candidates(model: str, provider: str | None = None) -> tuple[str, ...]:
    """The canonical model names a user-typed `model` may mean, most likely first: with a provider,
    exactly one; without, the catalog's own match, the name normalised as it stands, and a
    ``provider/model`` prefix read as the provider. Filters keep those that have calls."""
    if provider:
        return (canonical(provider, model)[1],)
    found: list[str] = []
    ref = normalise_model("", model)
    try:
        found.append(data_snapshot.get_snapshot().find_provider_model(ref, None, None, None)[1].id)
    except LookupError:
        pass
    found.append(ref)
    prefix, _, rest = model.strip().partition("/")
    if rest and prefix.lower() != "models":
        found.append(canonical(prefix, rest)[1])
    return tuple(dict.fromkeys(found))


def token_prices(price: types.ModelPrice) -> TokenPrices | None:
    """Our columns of a catalog price; None when it has neither an input nor an output price."""
    values: dict[str, Any] = {}
    tiers: Tiers = {}
    for column, key in PRICE_KEYS.items():
        value = getattr(price, key)
        if isinstance(value, types.TieredPrices):
            tiers[column] = [{"start": tier.start, "price": str(tier.price)} for tier in value.tiers]
            value = value.base
        values[column] = value
    if values["input_per_mtok"] is None and values["output_per_mtok"] is None:
        return None
    return TokenPrices(**values, tiers=tiers)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _utc_time(moment: time) -> time:
    """A constraint's time of day as a naive UTC time."""
    if moment.tzinfo is None:
        return moment
    return datetime.combine(date(2000, 1, 3), moment).astimezone(UTC).time().replace(tzinfo=None)


def _windows(model: types.ModelInfo) -> list[tuple[time, time]]:
    """The model's daily time windows (UTC), in the order the catalog lists them."""
    conditionals = [] if isinstance(model.prices, types.ModelPrice) else model.prices
    found = [c.constraint for c in conditionals] + [v.constraint for v in model.price_variants or ()]
    return list(dict.fromkeys((_utc_time(c.start_time), _utc_time(c.end_time)) for c in found
                              if isinstance(c, types.TimeOfDateConstraint)))


def _inside(moment: time, window: tuple[time, time]) -> bool:
    start, end = window
    return (moment >= start or moment < end) if end < start else start <= moment < end


def _outside_every_window(windows: list[tuple[time, time]]) -> time | None:
    """A time of day no window covers (where the all-day price is in force); None if none is left."""
    for candidate in (time(0), *(end for _, end in windows)):
        if not any(_inside(candidate, window) for window in windows):
            return candidate
    return None


def _change_dates(model: types.ModelInfo) -> list[datetime]:
    starts = {ALWAYS}
    conditionals = [] if isinstance(model.prices, types.ModelPrice) else model.prices
    for constraint in [c.constraint for c in conditionals] + [v.constraint for v in model.price_variants or ()]:
        if isinstance(constraint, types.StartDateConstraint):
            starts.add(_midnight(constraint.start_date))
    return sorted(starts)


def _tiers_of(model: types.ModelInfo) -> dict[str, dict[str, str] | None]:
    """The service tiers the model prices, each with the request context that selects it."""
    present = [variant.when for variant in model.price_variants or ()]
    tiers: dict[str, dict[str, str] | None] = {"standard": None}
    for tier, contexts in SERVICE_TIERS.items():
        if found := next((context for context in contexts if context in present), None):
            tiers[tier] = found
    return tiers


def catalog_prices() -> Iterator[CatalogPrice]:
    """Every dated token price in the bundled snapshot, per service tier the model has.

    A model with daily time windows (DeepSeek's peak hours) gets, at each date its prices change,
    the all-day price (as genai-prices evaluates it outside every window) and one price per window
    that differs from it (as evaluated at the window's start that day): piecewise, exactly what
    ``get_prices`` answers for any moment."""
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            dates = _change_dates(model)
            windows = _windows(model)
            outside = _outside_every_window(windows) if windows else time(0)
            for tier, context in _tiers_of(model).items():
                previous: tuple | None = None
                for valid_from in dates:
                    day = valid_from.date()
                    base = (token_prices(model.get_prices(datetime.combine(day, outside, UTC), context))
                            if outside is not None else None)
                    windowed = []
                    for start, end in windows:
                        prices = token_prices(model.get_prices(datetime.combine(day, start, UTC), context))
                        if prices is not None and prices != base:
                            windowed.append(((start, end), prices))
                    group = (base, tuple(windowed))
                    if (base is None and not windowed) or group == previous:
                        continue
                    previous = group
                    if base is not None:
                        yield CatalogPrice(provider=provider.id, model=model.id, service_tier=tier,
                                           valid_from=valid_from, **_fields(base))
                    for (start, end), prices in windowed:
                        yield CatalogPrice(provider=provider.id, model=model.id, service_tier=tier,
                                           valid_from=valid_from, window_start=start, window_end=end,
                                           **_fields(prices))


def _fields(prices: TokenPrices) -> dict[str, Any]:
    return {f.name: getattr(prices, f.name) for f in dataclasses.fields(TokenPrices)}
