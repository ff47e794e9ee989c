"""The cost of one call: a stored price applied to the call's token usage, exactly.

The arithmetic is `genai-prices`' own price engine, fed with the prices from our table: each
token is billed once, at the most specific price the model has (a cache read at the cache-read
price, else at the input price), and a threshold tier (e.g. above 200k input tokens) applies its
price to all the call's tokens of that type, as the providers bill it. Results are `Decimal`,
rounded half-even to the 18 decimals of the money columns (exact for every catalog price of the
major providers).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from genai_prices import types

from app.pricing.catalog import PRICE_KEYS, TokenPrices
from app.pricing.usage import TokenUsage

MONEY_QUANTUM = Decimal("1e-18")


@dataclass(frozen=True)
class CallCost:
    input_cost: Decimal
    output_cost: Decimal

    @property
    def total_cost(self) -> Decimal:
        return self.input_cost + self.output_cost


def _money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def to_genai(price: TokenPrices) -> types.ModelPrice:
    """Our stored price as the catalog's `ModelPrice` (threshold tiers included)."""
    values: dict[str, Decimal | types.TieredPrices] = {}
    for column, key in PRICE_KEYS.items():
        base = getattr(price, column)
        if base is None:
            continue
        tiers = price.tiers.get(column)
        if tiers:
            values[key] = types.TieredPrices(
                base=base, tiers=[types.Tier(start=int(t["start"]), price=Decimal(t["price"])) for t in tiers]
            )
        else:
            values[key] = base
    return types.ModelPrice(**values)


def compute_cost(price: TokenPrices, usage: TokenUsage, engine_price: types.ModelPrice | None = None) -> CallCost | None:
    """Cost of `usage` at `price`, or None when the price has no rate for input or output used.

    `engine_price` is ``to_genai(price)`` when the caller already has it (it is reused per batch).
    """
    if (usage.input_tokens and price.input_per_mtok is None) or (usage.output_tokens and price.output_per_mtok is None):
        return None
    result = (engine_price or to_genai(price)).calc_price(usage.to_genai())
    return CallCost(input_cost=_money(result["input_price"]), output_cost=_money(result["output_price"]))
