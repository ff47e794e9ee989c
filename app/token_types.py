"""The billed token types and the prices that bill them: the one home of both facts.

Everything that lists token types derives from :data:`TOKEN_TYPES` — the request and response
fields of a call (:mod:`app.schemas.calls`), the columns of ``llm_call_log`` and every rollup's
sums (:mod:`app.models.calls`, :mod:`app.ledger.rollups`), the ledger's statement, a call's
:class:`~app.pricing.usage.TokenUsage` and its mapping to `genai-prices`. Everything that lists
per-million-token prices derives from :data:`PRICE_TYPES` — the columns of ``model_price``, the
override body and ``GET /api/prices`` (:mod:`app.schemas.prices`), ``flask costs prices set``'s
options, the catalog's keys and LiteLLM's. A new token type is one line here and a migration.

One rule throughout: a total includes its parts. ``input_tokens`` counts every input token; of
them ``cached_input_tokens`` were cache reads, ``cache_write_tokens`` cache writes (of which
``cache_write_1h_tokens`` with a one-hour lifetime), ``input_audio_tokens`` audio (of which
``cached_audio_tokens`` cache reads). ``output_tokens`` counts every output token; of them
``reasoning_tokens`` were reasoning and ``output_audio_tokens`` audio. `total_tokens` (a column,
not a type) is input plus output.

This module imports nothing from the application: every layer may read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TokenType:
    name: str  # column of llm_call_log and of the rollups; attribute of calls, records, usages
    json: str  # the field of the REST API (camelCase)
    genai: str  # the `genai_prices.Usage` key
    within: tuple[str, ...]  # the token types that count these tokens too (their totals)
    description: str  # what the field holds, for the API documentation

    @property
    def required(self) -> bool:
        """Input and output are every call's two totals; every part defaults to 0."""
        return not self.within


TOKEN_TYPES: tuple[TokenType, ...] = (
    TokenType("input_tokens", "inputTokens", "input_tokens", (),
              "All input tokens: cache reads, cache writes and audio included."),
    TokenType("output_tokens", "outputTokens", "output_tokens", (),
              "All output tokens: reasoning and audio included."),
    TokenType("cached_input_tokens", "cachedInputTokens", "cache_read_tokens", ("input_tokens",),
              "How many of inputTokens were cache reads."),
    TokenType("cache_write_tokens", "cacheWriteTokens", "cache_write_tokens", ("input_tokens",),
              "How many of inputTokens were written to the cache."),
    TokenType("cache_write_1h_tokens", "cacheWrite1hTokens", "cache_write_1h_tokens", ("cache_write_tokens",),
              "How many of cacheWriteTokens were written with a one-hour lifetime (Anthropic)."),
    TokenType("input_audio_tokens", "inputAudioTokens", "input_audio_tokens", ("input_tokens",),
              "How many of inputTokens were audio."),
    TokenType("cached_audio_tokens", "cachedAudioTokens", "cache_audio_read_tokens",
              ("cached_input_tokens", "input_audio_tokens"),
              "How many of inputAudioTokens were cache reads (also counted in cachedInputTokens)."),
    TokenType("reasoning_tokens", "reasoningTokens", "output_reasoning_tokens", ("output_tokens",),
              "How many of outputTokens were reasoning (billed as output)."),
    TokenType("output_audio_tokens", "outputAudioTokens", "output_audio_tokens", ("output_tokens",),
              "How many of outputTokens were audio."),
)
TOKEN_NAMES: tuple[str, ...] = tuple(token.name for token in TOKEN_TYPES)
TOKEN_BY_NAME: dict[str, TokenType] = {token.name: token for token in TOKEN_TYPES}
TOTAL_TOKENS = "total_tokens"  # input + output: a stored column and a rollup sum, not a type
# What a rollup sums of the tokens: every type, and the total.
TOKEN_SUMS: tuple[str, ...] = (*TOKEN_NAMES, TOTAL_TOKENS)


@dataclass(frozen=True)
class PriceType:
    name: str  # column of model_price (USD per million tokens)
    json: str  # the field of the REST API (camelCase)
    genai: str  # the `genai_prices.types.ModelPrice` attribute
    option: str  # the option of `flask costs prices set`
    litellm: str  # the per-token key in LiteLLM's model_prices_and_context_window.json
    label: str  # what it prices, for people


PRICE_TYPES: tuple[PriceType, ...] = (
    PriceType("input_per_mtok", "inputPerMtok", "input_mtok", "--input", "input_cost_per_token", "Input"),
    PriceType("output_per_mtok", "outputPerMtok", "output_mtok", "--output", "output_cost_per_token", "Output"),
    PriceType("cache_read_per_mtok", "cacheReadPerMtok", "cache_read_mtok", "--cache-read",
              "cache_read_input_token_cost", "Cached input read"),
    PriceType("cache_write_per_mtok", "cacheWritePerMtok", "cache_write_mtok", "--cache-write",
              "cache_creation_input_token_cost", "Cache write (5 minutes)"),
    PriceType("cache_write_1h_per_mtok", "cacheWrite1hPerMtok", "cache_write_1h_mtok", "--cache-write-1h",
              "cache_creation_input_token_cost_above_1hr", "Cache write (1 hour)"),
    PriceType("input_audio_per_mtok", "inputAudioPerMtok", "input_audio_mtok", "--input-audio",
              "input_cost_per_audio_token", "Audio input"),
    PriceType("cached_audio_per_mtok", "cachedAudioPerMtok", "cache_audio_read_mtok", "--cached-audio",
              "cache_read_input_audio_token_cost", "Cached audio input"),
    PriceType("output_audio_per_mtok", "outputAudioPerMtok", "output_audio_mtok", "--output-audio",
              "output_cost_per_audio_token", "Audio output"),
)
PRICE_NAMES: tuple[str, ...] = tuple(price.name for price in PRICE_TYPES)
