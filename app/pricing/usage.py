"""Token usage of one call: every billed token type (:data:`app.token_types.TOKEN_TYPES`), and how
it maps to and from `genai-prices`.

A total includes its parts (see :mod:`app.token_types`). This is the convention of
`genai-prices`' ``Usage``, whose price engine bills each token once, at the most specific price
the model has (cached audio at the cached-audio price, else the cache-read price, else input).
"""

from __future__ import annotations

from dataclasses import field, fields, make_dataclass
from typing import Any

from genai_prices import Usage

from app.token_types import TOKEN_BY_NAME, TOKEN_TYPES

# Our field → the genai-prices usage key it feeds.
GENAI_KEYS = {token.name: token.genai for token in TOKEN_TYPES}


class _Usage:
    """The behaviour of :class:`TokenUsage`; its fields are the token types."""

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens  # type: ignore[attr-defined]

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    def to_genai(self) -> Usage:
        return Usage(**{GENAI_KEYS[name]: value for name, value in self.as_dict().items() if value})

    @classmethod
    def from_genai(cls, usage: Usage) -> TokenUsage:
        """Our usage from the catalog's; ValueError when a count is not a whole number."""
        reported = {key: usage.reported_value(key) for key in (*GENAI_KEYS.values(), "cache_write_5m_tokens")}
        if fractional := [key for key, value in reported.items() if value != int(value)]:
            raise ValueError(f"token counts must be whole numbers ({', '.join(fractional)})")
        if not reported["cache_write_tokens"]:  # some APIs report only the 5-minute / 1-hour parts
            reported["cache_write_tokens"] = usage.reported_value("cache_write_5m_tokens") + reported[
                "cache_write_1h_tokens"]
        return cls(**{name: int(reported[key]) for name, key in GENAI_KEYS.items()})

    def problems(self) -> dict[str, str]:
        """Parts that exceed their totals, by API field name (empty when consistent)."""
        found: dict[str, str] = {}
        for token in TOKEN_TYPES:
            for total in token.within:
                if getattr(self, token.name) > getattr(self, total):
                    whole = TOKEN_BY_NAME[total].json
                    found.setdefault(token.json, f"Must not exceed {whole} (which counts these tokens too).")
        # The parts of the input overlap only where cached audio is both cached and audio.
        parts = [t for t in TOKEN_TYPES if t.within == ("input_tokens",)]
        overlap = [t for t in TOKEN_TYPES if len(t.within) > 1 and set(t.within) <= {p.name for p in parts}]
        counted = sum(getattr(self, t.name) for t in parts) - sum(getattr(self, t.name) for t in overlap)
        if counted > self.input_tokens:  # type: ignore[attr-defined]
            found.setdefault("inputTokens", "Must count every input token: "
                             + ", ".join(t.json for t in parts) + " are parts of it.")
        return found


# A call's token counts: one int field per token type; the two totals are required.
TokenUsage = make_dataclass(
    "TokenUsage",
    [(t.name, int) if t.required else (t.name, int, field(default=0)) for t in TOKEN_TYPES],
    bases=(_Usage,), frozen=True,
)
TokenUsage.__module__ = __name__


def usage_of(obj: Any) -> TokenUsage:
    """The token usage of anything carrying our token fields (a call, a row)."""
    return TokenUsage(**{name: getattr(obj, name) for name in GENAI_KEYS})
