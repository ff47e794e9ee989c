"""Typed tables, one module per concept. Importing this package registers every table on `Base`."""

from app.models.calls import CallRequestKey, LlmCall
from app.models.price_epoch import PriceEpoch
from app.models.prices import ModelPrice
from app.models.rollups import CallDaily, CallDailyModel, CallDailyUser, CallHourly

__all__ = ["CallDaily", "CallDailyModel", "CallDailyUser", "CallHourly", "CallRequestKey", "LlmCall", "ModelPrice", "PriceEpoch"]
