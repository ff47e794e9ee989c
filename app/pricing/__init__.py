"""Prices: the bundled catalog, the `model_price` table, and the cost of one call.

- :mod:`app.pricing.catalog` reads the `genai-prices` bundled snapshot (never its network updater)
  and resolves the model names clients send to catalog model ids.
- :mod:`app.pricing.store` keeps `model_price` in step with the catalog and answers
  "which price was in force for this model at time T".
- :mod:`app.pricing.cost` turns a price and token counts into exact `Decimal` costs.
"""

from app.pricing.cost import CallCost, compute_cost
from app.pricing.store import PriceBook, PriceRef, SyncResult, list_prices, sync_catalog

__all__ = ["CallCost", "PriceBook", "PriceRef", "SyncResult", "compute_cost", "list_prices", "sync_catalog"]
