"""The `genai-prices` bundled snapshot: dated per-million-token prices and model-name matching.

Only the bundled data is read; the package's updater (which fetches from the internet) is never
started. Catalog prices that our table cannot express yet are reduced as follows, and the
reduction is documented in README ("How costs are computed"):

- tiered prices (e.g. above 200k input tokens) keep their base tier;
- time-of-day prices (off-peak discounts) are skipped in favour of the standard price.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import genai_prices
from genai_prices import data_snapshot, types

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


@dataclass(frozen=True)
class CatalogPrice:
    provider: str
    model: str
    valid_from: datetime
    input_per_mtok: Decimal | None
    output_per_mtok: Decimal | None
    cache_read_per_mtok: Decimal | None
    cache_write_per_mtok: Decimal | None


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
    """The catalog's (provider id, model id) for a provider and model as a client sent them."""
    provider_id = normalise_provider(provider)
    ref = normalise_model(provider_id, model)
    try:
        found_provider, found_model = data_snapshot.get_snapshot().find_provider_model(ref, None, provider_id, None)
    except LookupError:
        return None
    return found_provider.id, found_model.id


def _token_prices(price: types.ModelPrice) -> dict[str, Decimal | None]:
    def base(value: object) -> Decimal | None:
        if isinstance(value, types.TieredPrices):
            return value.base
        return value if isinstance(value, Decimal) else None

    return {
        "input_per_mtok": base(price.input_mtok),
        "output_per_mtok": base(price.output_mtok),
        "cache_read_per_mtok": base(price.cache_read_mtok),
        "cache_write_per_mtok": base(price.cache_write_mtok),
    }


def catalog_prices() -> Iterator[CatalogPrice]:
    """Every dated token price in the bundled snapshot (models without token prices are left out)."""
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            if isinstance(model.prices, types.ModelPrice):
                dated = [(ALWAYS, model.prices)]
            else:
                dated = []
                for conditional in model.prices:
                    constraint = conditional.constraint
                    if constraint is None:
                        dated.append((ALWAYS, conditional.prices))
                    elif isinstance(constraint, types.StartDateConstraint):
                        start = datetime(constraint.start_date.year, constraint.start_date.month,
                                         constraint.start_date.day, tzinfo=UTC)
                        dated.append((start, conditional.prices))
                    # TimeOfDateConstraint (off-peak windows): the standard price stands.
            for valid_from, price in dated:
                prices = _token_prices(price)
                if prices["input_per_mtok"] is None and prices["output_per_mtok"] is None:
                    continue
                yield CatalogPrice(provider=provider.id, model=model.id, valid_from=valid_from, **prices)
