"""Typed tables, one module per concept. Importing this package registers every table on `Base`."""

from app.models.calls import CallRequestKey, LlmCall
from app.models.prices import ModelPrice

__all__ = ["CallRequestKey", "LlmCall", "ModelPrice"]
