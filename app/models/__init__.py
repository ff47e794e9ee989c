"""Typed tables, one module per concept. Importing this package registers these tables on `Base`;
the rollup tables are the ledger's (:mod:`app.ledger.rollup_tables`), registered when it is imported."""

from app.models.alerts import BudgetAlert
from app.models.bi import BiRole
from app.models.budgets import Budget, BudgetSpend
from app.models.calls import CallRequestKey, LlmCall
from app.models.keys import ApiKey
from app.models.price_epoch import PriceEpoch
from app.models.price_history import PriceChange
from app.models.prices import ModelPrice

__all__ = ["ApiKey", "BiRole", "Budget", "BudgetAlert", "BudgetSpend", "CallRequestKey", "LlmCall", "ModelPrice", "PriceChange", "PriceEpoch"]
