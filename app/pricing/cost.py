"""The cost of one call: a stored price applied to the call's token usage, exactly.

The arithmetic is `genai-prices`' own price engine, fed with the prices from our table: each
token is billed once, at the most specific price the model has (a cache read at the cache-read
price, else at the input price), and a threshold tier (e.g. above 200k input tokens) applies its
price to all the call's tokens of that type, as the providers bill it. Results are `Decimal`,
rounded half-even to the 18 decimals of the money columns (exact for every catalog price of the
major providers). Most calls — text input, cache reads and output, at a price without tiers — are
priced by integer arithmetic in 1e-18 USD instead (`PlainRates`, about 10× faster): the same
numbers, which ``tests/test_pricing.py`` checks against the engine for every catalog price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from genai_prices import types
from genai_prices.units import _get_registry
from genai_prices.validation import validate_priced_units

from app.pricing.catalog import PRICE_KEYS, TokenPrices
from app.pricing.usage import TokenUsage

MONEY_QUANTUM = Decimal("1e-18")
ATTO_PER_MTOK_RATE = 10**12  # a price per million tokens × this = 1e-18 USD per token
# The engine computes in a 28-digit decimal context: an exact cost of 10^27 atto-dollars or more
# (a billion dollars) might be rounded there, so it is left to the engine.
_EXACT_BELOW = 10**27


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


@dataclass(frozen=True)
class PlainRates:
    """A price without tiers whose input, cache-read and output rates are whole atto-dollars
    (1e-18 USD) per token (every catalog price of the major providers is)."""

    input: int | None
    cache_read: int | None
    output: int | None

    @classmethod
    def of(cls, price: TokenPrices) -> PlainRates | None:
        if price.tiers:
            return None
        rates = []
        for per_mtok in (price.input_per_mtok, price.cache_read_per_mtok, price.output_per_mtok):
            if per_mtok is None:
                rates.append(None)
                continue
            atto = per_mtok * ATTO_PER_MTOK_RATE
            if atto != atto.to_integral_value():
                return None
            rates.append(int(atto))
        return cls(*rates)

    def cost(self, usage: TokenUsage) -> CallCost | None:
        """The cost of a call with only text input, cache reads and output (reasoning is output),
        in integer arithmetic: what the engine computes, exactly. None for any other call (cache
        writes, audio) and for costs the engine might round: the engine prices those."""
        if usage.cache_write_tokens or usage.input_audio_tokens or usage.output_audio_tokens:
            return None  # (1-hour cache writes and cached audio are parts of these)
        cached = usage.cached_input_tokens
        read_rate = self.cache_read if self.cache_read is not None else self.input  # reads bill as input without a price
        input_atto = (usage.input_tokens - cached) * (self.input or 0) + cached * (read_rate or 0)
        output_atto = usage.output_tokens * (self.output or 0)
        if input_atto >= _EXACT_BELOW or output_atto >= _EXACT_BELOW:
            return None
        return CallCost(input_cost=Decimal(input_atto).scaleb(-18), output_cost=Decimal(output_atto).scaleb(-18))


class EnginePrice:
    """A price in the engine's form, with the per-price half of ``ModelPrice.calc_price`` done once.

    ``calc_price`` first resolves and validates the price's units (about a third of its time), then
    decomposes the usage and sums unit prices. A batch prices thousands of calls at a few prices,
    so the first half is done here, once per price, and :meth:`calc_price` runs the second with the
    engine's own functions, in its order (genai-prices is pinned; ``tests/test_costs_table.py``
    checks the result against ``ModelPrice.calc_price`` itself).
    """

    def __init__(self, model_price: types.ModelPrice, plain: PlainRates | None = None) -> None:
        registry = _get_registry()
        self.model_price = model_price
        self.plain = plain  # when set, `compute_cost` prices plain calls by integer arithmetic
        self._resolved = types._collect_resolved_model_prices(model_price, registry)
        validate_priced_units(tuple(unit for unit, _ in self._resolved), registry)
        self._tiered = any(isinstance(price, types.TieredPrices) for _, price in self._resolved)

    def calc_price(self, usage: types.AbstractUsage) -> dict[str, Decimal]:
        usage_data = types.Usage.from_raw(usage)
        counts = types._compute_registry_priced_counts(self._resolved, usage_data)
        total_input_tokens = usage_data.input_tokens if self._tiered else 0
        prices = {"input": Decimal(0), "output": Decimal(0)}
        for unit, price in self._resolved:
            unit_price = types.calc_unit_price(price, counts[unit.usage_key], total_input_tokens, unit.per)
            direction = unit.dimensions.get("direction")
            if direction in prices:
                prices[direction] += unit_price
        return {"input_price": prices["input"], "output_price": prices["output"]}


def engine_price(price: TokenPrices) -> EnginePrice:
    return EnginePrice(to_genai(price), PlainRates.of(price))


def compute_cost(price: TokenPrices, usage: TokenUsage, engine: EnginePrice | types.ModelPrice | None = None
                 ) -> CallCost | None:
    """Cost of `usage` at `price`, or None when the price has no rate for input or output used.

    `engine` is ``engine_price(price)`` (or ``to_genai(price)``) when the caller already has it.
    """
    if (usage.input_tokens and price.input_per_mtok is None) or (usage.output_tokens and price.output_per_mtok is None):
        return None
    if isinstance(engine, EnginePrice) and engine.plain is not None:
        cost = engine.plain.cost(usage)
        if cost is not None:
            return cost
    result = (engine or to_genai(price)).calc_price(usage.to_genai())
    return CallCost(input_cost=_money(result["input_price"]), output_cost=_money(result["output_price"]))
