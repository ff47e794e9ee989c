"""The cost of one call: exact `Decimal` arithmetic on per-million-token prices.

``input_tokens`` counts every input token, cached reads included (OpenAI's convention). Cached
reads are charged at the cache-read price when the price has one, otherwise at the input price,
and the rest of the input at the input price — so no token is charged twice. Results are rounded
half-even to the scale of the money columns (18 decimals), i.e. exact for every catalog price
with up to 12 decimals per million tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Protocol

MILLION = Decimal(1_000_000)
MONEY_QUANTUM = Decimal("1e-18")


class TokenPrices(Protocol):
    input_per_mtok: Decimal | None
    output_per_mtok: Decimal | None
    cache_read_per_mtok: Decimal | None


@dataclass(frozen=True)
class CallCost:
    input_cost: Decimal
    output_cost: Decimal

    @property
    def total_cost(self) -> Decimal:
        return self.input_cost + self.output_cost


def _money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def compute_cost(
    price: TokenPrices, *, input_tokens: int, cached_input_tokens: int, output_tokens: int
) -> CallCost | None:
    """Cost of the tokens at `price`, or None when the price does not cover a token type used."""
    uncached = input_tokens - cached_input_tokens
    cache_price = price.cache_read_per_mtok if price.cache_read_per_mtok is not None else price.input_per_mtok
    if (uncached and price.input_per_mtok is None) or (cached_input_tokens and cache_price is None):
        return None
    if output_tokens and price.output_per_mtok is None:
        return None
    with localcontext() as ctx:
        ctx.prec = 60  # wide enough that only the final quantize rounds
        input_cost = (uncached * (price.input_per_mtok or 0) + cached_input_tokens * (cache_price or 0)) / MILLION
        output_cost = output_tokens * (price.output_per_mtok or 0) / MILLION
        return CallCost(input_cost=_money(input_cost), output_cost=_money(output_cost))
