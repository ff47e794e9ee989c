"""Money as text: the one way an exact decimal amount is written out (API, CLI, webhooks)."""

from __future__ import annotations

from decimal import Decimal


def money_text(value: Decimal) -> str:
    """``Decimal("2.50")`` → ``"2.5"``: the exact value, without exponent or trailing zeros."""
    return format(value.normalize(), "f")
