"""A second opinion: the bundled catalog against LiteLLM's price map, cost for cost.

For every entry of a LiteLLM ``model_prices_and_context_window.json`` whose model the catalog
also prices (standard tier), both price sets cost a few standard usages with the same engine
(`compute_cost`): plain input and output, input mostly read from cache, and input above the
long-context threshold. A usage whose costs differ by more than a tolerance is a disagreement,
listed with the prices behind each figure, so an operator can see where the catalogs part and set
an override.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.pricing import catalog
from app.pricing.catalog import TokenPrices
from app.pricing.cost import compute_cost
from app.pricing.overrides import PRICED_MODES, OverrideError, entry_overrides
from app.pricing.store import list_prices
from app.pricing.usage import TokenUsage

USAGES: dict[str, TokenUsage] = {
    "plain (1,000 in / 1,000 out)": TokenUsage(input_tokens=1_000, output_tokens=1_000),
    "cache reads (10,000 in of which 8,000 cached / 1,000 out)": TokenUsage(
        input_tokens=10_000, cached_input_tokens=8_000, output_tokens=1_000),
    "long context (300,000 in / 1,000 out)": TokenUsage(input_tokens=300_000, output_tokens=1_000),
}


@dataclass(frozen=True)
class Disagreement:
    provider: str
    model: str
    litellm_name: str
    usage: str
    ours: Decimal | None  # None: that side cannot price the usage
    theirs: Decimal | None
    our_prices: TokenPrices
    their_prices: TokenPrices

    @property
    def percent(self) -> Decimal | None:
        if self.ours is None or self.theirs is None or not self.ours:
            return None
        return ((self.theirs - self.ours) / self.ours * 100).quantize(Decimal("0.1"))


@dataclass
class Comparison:
    compared: int = 0  # models both price
    only_litellm: int = 0  # LiteLLM entries the catalog does not price
    disagreements: list[Disagreement] | None = None


def _cost(prices: TokenPrices, usage: TokenUsage) -> Decimal | None:
    try:
        cost = compute_cost(prices, usage)
    except (ValueError, ArithmeticError, TypeError):
        return None
    return cost.total_cost if cost else None


def _differs(ours: Decimal | None, theirs: Decimal | None, tolerance: Decimal) -> bool:
    if ours is None or theirs is None:
        return ours is not theirs
    if not ours:
        return bool(theirs)
    return abs(theirs - ours) / ours * 100 > tolerance


def _entries(document: dict[str, Any]) -> Iterator[tuple[str, TokenPrices, str, str]]:
    """(LiteLLM name, its standard prices, our provider id, our model id) of each entry the catalog knows."""
    for name, entry in document.items():
        if name == "sample_spec" or not isinstance(entry, dict) or entry.get("mode") not in PRICED_MODES:
            continue
        try:
            overrides = entry_overrides(name, entry, datetime.now(), None, "compare")
        except OverrideError:
            continue
        standard = next((o for o in overrides if o.service_tier == "standard"), None)
        resolved = catalog.resolve(standard.provider, standard.model) if standard else None
        if standard and resolved:
            yield name, standard.prices, *resolved
        elif standard:
            yield name, standard.prices, "", ""


def compare(session: Session, document: dict[str, Any], *, at: datetime, tolerance: Decimal) -> Comparison:
    if not isinstance(document, dict):
        raise OverrideError("a LiteLLM price file is a JSON object of model entries")
    result = Comparison(disagreements=[])
    seen: set[tuple[str, str, str]] = set()
    for name, theirs, provider, model in _entries(document):
        if not provider:
            result.only_litellm += 1
            continue
        ours = next((p for p in list_prices(session, provider=provider, model=model, at=at, service_tier="standard")
                     if p.kind == "catalog" and p.window_start is None), None)
        if ours is None:
            result.only_litellm += 1
            continue
        result.compared += 1
        for usage_name, usage in USAGES.items():
            our_cost, their_cost = _cost(ours, usage), _cost(theirs, usage)
            if _differs(our_cost, their_cost, tolerance) and (provider, model, usage_name) not in seen:
                seen.add((provider, model, usage_name))
                result.disagreements.append(Disagreement(provider, model, name, usage_name, our_cost, their_cost,
                                                         ours, theirs))
    return result
