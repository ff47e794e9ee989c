"""The models the benchmark's calls are made with: 43 that genai-prices 0.2.3 prices, across
OpenAI, Anthropic, Google, Mistral, DeepSeek, xAI and Cohere, and a few it does not know.

Each priced model is listed once, most used first (a shape of ``models = n`` uses the first
``n``), with every spelling clients send it under: dated snapshots (``gpt-4o-2024-08-06`` and
``gpt-4o``, ``claude-sonnet-4-5-20250929`` and ``claude-sonnet-4-5``), ``models/`` prefixes
(``models/gemini-2.5-flash``). Every spelling resolves to the same catalog model
(:func:`app.pricing.catalog.canonical`), and tests check that the ledger's ``PriceBook`` prices
each one, and that the unknown ones are not priced.

A spelling is an :class:`app.demo.Model` (speed, caching, reasoning), so that calls follow the
demo's token rules: cache reads only on models whose price has a cache-read rate, cache writes
on Anthropic's, reasoning tokens on reasoning models; embedding models answer no output.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.demo import Model


@dataclass(frozen=True)
class Llm:
    """One model, under every spelling it is sent as."""

    spellings: tuple[Model, ...]
    embeds: bool = False  # an embedding model: serves embedding endpoints only

    @property
    def provider(self) -> str:
        return self.spellings[0].provider

    @property
    def name(self) -> str:
        return self.spellings[0].name


def _llm(provider: str, names: str, base_ms: int, ms_per_token: float, *, caches: bool = True,
         reasoning: tuple[float, float] | None = None, embeds: bool = False) -> Llm:
    return Llm(tuple(Model(provider, name, base_ms, ms_per_token, caches=caches and not embeds,
                           cache_writes=provider == "anthropic", reasoning=reasoning)
                     for name in names.split()), embeds)


# Most used first. Whether a model `caches` follows its catalog price (a cache-read rate or not).
PRICED = (
    _llm("openai", "gpt-4o-mini gpt-4o-mini-2024-07-18", 300, 7.0),
    _llm("anthropic", "claude-sonnet-4-5-20250929 claude-sonnet-4-5", 700, 14.0),
    _llm("google", "gemini-2.5-flash models/gemini-2.5-flash", 400, 5.0, reasoning=(0.2, 1.2)),
    _llm("openai", "gpt-4o gpt-4o-2024-08-06 gpt-4o-2024-11-20", 450, 12.0),
    _llm("openai", "text-embedding-3-small", 90, 0.0, embeds=True),
    _llm("openai", "gpt-4.1-mini gpt-4.1-mini-2025-04-14", 320, 7.0),
    _llm("anthropic", "claude-haiku-4-5-20251001 claude-haiku-4-5", 350, 7.0),
    _llm("openai", "o4-mini o4-mini-2025-04-16", 1_800, 12.0, reasoning=(0.8, 3.0)),
    _llm("google", "models/gemini-2.5-pro gemini-2.5-pro", 1_200, 11.0, reasoning=(0.5, 2.5)),
    _llm("openai", "gpt-5-mini", 1_500, 9.0, reasoning=(0.5, 2.5)),
    _llm("anthropic", "claude-3-5-haiku-20241022 claude-3-5-haiku-latest", 350, 8.0),
    _llm("google", "gemini-2.0-flash gemini-2.0-flash-001", 300, 4.0),
    _llm("openai", "gpt-4.1 gpt-4.1-2025-04-14", 450, 11.0),
    _llm("openai", "o3-mini o3-mini-2025-01-31", 2_500, 18.0, reasoning=(1.0, 4.0)),
    _llm("google", "gemini-embedding-001", 110, 0.0, embeds=True),
    _llm("deepseek", "deepseek-chat", 600, 15.0),
    _llm("mistral", "mistral-small-latest", 300, 6.0, caches=False),
    _llm("openai", "gpt-5 gpt-5-2025-08-07", 2_000, 14.0, reasoning=(0.8, 3.0)),
    _llm("anthropic", "claude-sonnet-4-20250514 claude-sonnet-4-0", 700, 14.0),
    _llm("openai", "gpt-4.1-nano", 250, 5.0),
    _llm("google", "gemini-2.5-flash-lite", 250, 3.5),
    _llm("x-ai", "grok-3-mini", 900, 8.0, reasoning=(1.0, 3.0)),
    _llm("mistral", "mistral-large-latest mistral-large-2411", 600, 13.0, caches=False),
    _llm("anthropic", "claude-opus-4-1-20250805 claude-opus-4-1", 1_200, 25.0),
    _llm("openai", "text-embedding-3-large", 120, 0.0, embeds=True),
    _llm("deepseek", "deepseek-reasoner", 3_000, 16.0, reasoning=(1.0, 4.0)),
    _llm("openai", "o3", 3_000, 15.0, reasoning=(1.0, 4.0)),
    _llm("cohere", "command-r", 400, 8.0, caches=False),
    _llm("google", "gemini-2.0-flash-lite", 250, 3.5, caches=False),
    _llm("anthropic", "claude-3-7-sonnet-20250219 claude-3-7-sonnet-latest", 700, 14.0),
    _llm("x-ai", "grok-code-fast-1", 500, 6.0),
    _llm("mistral", "codestral-latest", 350, 6.0, caches=False),
    _llm("openai", "gpt-5-nano", 900, 6.0, reasoning=(0.5, 2.0)),
    _llm("mistral", "mistral-embed", 100, 0.0, embeds=True),
    _llm("cohere", "command-r-plus", 700, 14.0, caches=False),
    _llm("anthropic", "claude-opus-4-5", 1_000, 20.0),
    _llm("google", "gemini-3-pro-preview", 1_800, 12.0, reasoning=(0.5, 2.5)),
    _llm("x-ai", "grok-4-0709", 2_500, 15.0, reasoning=(1.0, 3.0)),
    _llm("cohere", "embed-v4.0", 110, 0.0, embeds=True),
    _llm("openai", "gpt-3.5-turbo gpt-3.5-turbo-0125", 300, 6.0, caches=False),
    _llm("mistral", "ministral-8b-latest", 250, 4.0),
    _llm("anthropic", "claude-3-haiku-20240307", 300, 6.0),
    _llm("google", "gemini-1.5-flash", 300, 4.0),
)

# Models the catalog does not know (a fine-tune, an internal preview, a self-hosted model):
# a call made with one is stored unpriced.
UNKNOWN = (
    _llm("openai", "gpt-5-internal-preview", 1_500, 10.0, caches=False),
    _llm("anthropic", "claude-internal-ft", 700, 14.0, caches=False),
    _llm("selfhosted", "acme-llm-7b", 200, 4.0, caches=False),
)

# What failed calls say, per provider (app.demo's, and the same kinds for the others).
ERRORS = {
    "openai": ("429 Too Many Requests: Rate limit reached for requests", "500 Internal Server Error",
               "Request timed out after 60s", "400 context_length_exceeded"),
    "anthropic": ("529 overloaded_error: Overloaded", "429 rate_limit_error", "Request timed out after 60s"),
    "google": ("429 RESOURCE_EXHAUSTED: Quota exceeded", "503 UNAVAILABLE: The model is overloaded",
               "Request timed out after 60s"),
    "mistral": ("429 Too Many Requests: Requests rate limit exceeded", "503 Service Unavailable",
                "Request timed out after 60s"),
    "deepseek": ("503 Server Overloaded", "429 Rate Limit Reached", "Request timed out after 60s"),
    "x-ai": ("429 Too Many Requests", "500 Internal Server Error", "Request timed out after 60s"),
    "cohere": ("429 Too Many Requests: trial key rate limit", "500 internal server error",
               "Request timed out after 60s"),
    "selfhosted": ("502 Bad Gateway", "503 Service Unavailable", "Request timed out after 60s"),
}
