"""Prices: the bundled catalog, the `model_price` table, and the cost of one call.

- :mod:`app.pricing.catalog` reads the `genai-prices` bundled snapshot (never its network updater)
  and resolves the model names clients send to catalog model ids.
- :mod:`app.pricing.usage` is a call's token usage, every billed token type.
- :mod:`app.pricing.store` keeps `model_price` in step with the catalog and answers
  "which price applies to this call" (history, service tier, overrides).
- :mod:`app.pricing.cost` turns a price and a usage into exact `Decimal` costs.
"""

from app.pricing.cost import CallCost, compute_cost
from app.pricing.store import PriceBook, PriceCache, PricesChanged, PriceRef, SyncResult, list_prices, sync_catalog
from app.pricing.usage import TokenUsage

__all__ = ["CallCost", "PriceBook", "PriceCache", "PriceRef", "PricesChanged", "SyncResult", "TokenUsage", "compute_cost", "list_prices",
           "sync_catalog"]
