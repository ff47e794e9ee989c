"""Token usage of one call: every billed token type, and how it maps to and from `genai-prices`.

One rule throughout: a total includes its parts. ``input_tokens`` counts every input token; of
them ``cached_input_tokens`` were cache reads, ``cache_write_tokens`` cache writes (of which
``cache_write_1h_tokens`` with a one-hour lifetime) and ``input_audio_tokens`` audio (of which
``cached_audio_tokens`` were cache reads). ``output_tokens`` counts every output token; of them
``reasoning_tokens`` were reasoning and ``output_audio_tokens`` audio. This is the convention of
`genai-prices`' ``Usage``, whose price engine bills each token once, at the most specific price
the model has (cached audio at the cached-audio price, else the cache-read price, else input).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from genai_prices import Usage

# Our field → the genai-prices usage key it feeds.
GENAI_KEYS = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cached_input_tokens": "cache_read_tokens",
    "cache_write_tokens": "cache_write_tokens",
    "cache_write_1h_tokens": "cache_write_1h_tokens",
    "input_audio_tokens": "input_audio_tokens",
    "cached_audio_tokens": "cache_audio_read_tokens",
    "reasoning_tokens": "output_reasoning_tokens",
    "output_audio_tokens": "output_audio_tokens",
}


@dataclass(frozen=True)
class TokenUsage:
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    input_audio_tokens: int = 0
    cached_audio_tokens: int = 0
    reasoning_tokens: int = 0
    output_audio_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

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
        """Parts that exceed their totals, by field name (empty when consistent)."""
        found: dict[str, str] = {}
        checks: list[tuple[str, bool, str]] = [
            ("cacheWrite1hTokens", self.cache_write_1h_tokens <= self.cache_write_tokens,
             "Must not exceed cacheWriteTokens (which counts 1-hour writes too)."),
            ("cachedAudioTokens", self.cached_audio_tokens <= self.cached_input_tokens,
             "Must not exceed cachedInputTokens (which counts cached audio too)."),
            ("cachedAudioTokens", self.cached_audio_tokens <= self.input_audio_tokens,
             "Must not exceed inputAudioTokens (which counts cached audio too)."),
            ("cachedInputTokens", self.cached_input_tokens <= self.input_tokens,
             "Must not exceed inputTokens (which counts cached tokens too)."),
            ("inputTokens",
             self.cached_input_tokens + self.cache_write_tokens + self.input_audio_tokens - self.cached_audio_tokens
             <= self.input_tokens,
             "Must count every input token: cache reads, cache writes and audio are parts of it."),
            ("reasoningTokens", self.reasoning_tokens <= self.output_tokens,
             "Must not exceed outputTokens (which counts reasoning tokens too)."),
            ("outputAudioTokens", self.output_audio_tokens <= self.output_tokens,
             "Must not exceed outputTokens (which counts audio output too)."),
        ]
        for field_name, ok, message in checks:
            if not ok:
                found.setdefault(field_name, message)
        return found


def usage_of(obj: Any) -> TokenUsage:
    """The token usage of anything carrying our token fields (a call, a row)."""
    return TokenUsage(**{name: getattr(obj, name) for name in GENAI_KEYS})
