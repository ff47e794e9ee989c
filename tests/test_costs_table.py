"""Our cost equals the catalog's own calculation, exactly, through the real ingest endpoint.

Each case posts one call to `POST /api/calls` and compares the stored input, output and total
cost (exact decimal strings) with `genai_prices.calc_price` on the same usage, model, provider,
time and service tier — or, for negotiated rates, with the catalog's price engine applied to
the override's prices. Cases cover OpenAI, Anthropic and Google: every token type, threshold
tiers just below and above, both sides of historical price changes, service tiers, overrides and
the model names clients really send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price
from genai_prices.types import ModelPrice, TieredPrices, Tier

from app.pricing.catalog import TokenPrices
from app.pricing.overrides import Override, set_override
from app.pricing.usage import GENAI_KEYS

NOW = "2026-11-01T12:00:00+00:00"
JSON_NAMES = {
    "input_tokens": "inputTokens", "output_tokens": "outputTokens", "cached_input_tokens": "cachedInputTokens",
    "cache_write_tokens": "cacheWriteTokens", "cache_write_1h_tokens": "cacheWrite1hTokens",
    "input_audio_tokens": "inputAudioTokens", "cached_audio_tokens": "cachedAudioTokens",
    "reasoning_tokens": "reasoningTokens", "output_audio_tokens": "outputAudioTokens",
}
# Our service tier → the request context the catalog prices it with, per provider.
CONTEXTS = {"batch": {"processing": "batch"}, "flex": {"service_tier": "flex"},
            "priority": {"service_tier": "priority"}, "fast": {"service_tier": "fast"}}


@dataclass(frozen=True)
class Case:
    id: str
    provider: str  # as the client sends it
    model: str  # as the client sends it
    catalog: tuple[str, str]  # (provider id, model ref) for the catalog's own calculation
    tokens: dict[str, int]
    at: str = NOW
    tier: str = "standard"
    context: dict[str, str] | None = field(default=None)

    def body(self) -> dict:
        body = {"provider": self.provider, "model": self.model, "timestamp": self.at, "companyId": "table",
                "serviceTier": self.tier}
        return body | {JSON_NAMES[name]: value for name, value in self.tokens.items()}

    def usage(self) -> Usage:
        return Usage(**{GENAI_KEYS[name]: value for name, value in self.tokens.items() if value})


def t(input_tokens: int, output_tokens: int, **parts: int) -> dict[str, int]:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens, **parts}


OPENAI, ANTHROPIC, GOOGLE = "openai", "anthropic", "google"

CASES = [
    # --- OpenAI ---------------------------------------------------------------------------
    Case("openai-basic", "openai", "gpt-4o", (OPENAI, "gpt-4o"), t(1_250, 310)),
    Case("openai-dated-snapshot", "openai", "gpt-4o-2024-08-06", (OPENAI, "gpt-4o-2024-08-06"),
         t(12_345, 678, cached_input_tokens=4_096)),
    Case("openai-provider-spelling", "OpenAI", "openai/gpt-4o-mini", (OPENAI, "gpt-4o-mini"), t(1, 1)),
    Case("openai-cached-input", "openai", "gpt-4.1", (OPENAI, "gpt-4.1"), t(50_000, 900, cached_input_tokens=49_152)),
    Case("openai-all-cached", "openai", "gpt-4o-mini", (OPENAI, "gpt-4o-mini"), t(2_048, 10, cached_input_tokens=2_048)),
    Case("openai-reasoning", "openai", "o3", (OPENAI, "o3"), t(3_000, 9_000, reasoning_tokens=8_200)),
    Case("openai-o3-day-before-cut", "openai", "o3", (OPENAI, "o3"), t(50_000, 20_000, cached_input_tokens=10_000),
         at="2025-06-09T23:59:59+00:00"),
    Case("openai-o3-day-of-cut", "openai", "o3", (OPENAI, "o3"), t(50_000, 20_000, cached_input_tokens=10_000),
         at="2025-06-10T00:00:00+00:00"),
    Case("openai-o1-reasoning", "openai", "o1", (OPENAI, "o1"), t(1_000, 5_000, reasoning_tokens=4_500)),
    Case("openai-embedding", "openai", "text-embedding-3-small", (OPENAI, "text-embedding-3-small"), t(8_000, 0)),
    Case("openai-audio", "openai", "gpt-4o-realtime-preview", (OPENAI, "gpt-4o-realtime-preview"),
         t(5_000, 3_000, input_audio_tokens=4_000, cached_input_tokens=1_500, cached_audio_tokens=1_000,
           output_audio_tokens=2_500)),
    Case("openai-batch", "openai", "gpt-4o", (OPENAI, "gpt-4o"), t(100_000, 20_000), tier="batch",
         context=CONTEXTS["batch"]),
    Case("openai-flex", "openai", "gpt-5", (OPENAI, "gpt-5"), t(40_000, 8_000, cached_input_tokens=10_000),
         tier="flex", context=CONTEXTS["flex"]),
    Case("openai-priority", "openai", "gpt-5", (OPENAI, "gpt-5"), t(40_000, 8_000), tier="priority",
         context=CONTEXTS["priority"]),
    Case("openai-flex-before-flex-prices", "openai", "gpt-5", (OPENAI, "gpt-5"), t(40_000, 8_000), tier="flex",
         context=CONTEXTS["flex"], at="2026-10-11T23:59:59+00:00"),
    Case("openai-tier-just-below", "openai", "gpt-5.4", (OPENAI, "gpt-5.4"), t(272_000, 1_000)),
    Case("openai-tier-just-above", "openai", "gpt-5.4", (OPENAI, "gpt-5.4"), t(272_001, 1_000)),
    Case("openai-tier-above-cached", "openai", "gpt-5.4-2026-03-05", (OPENAI, "gpt-5.4-2026-03-05"),
         t(300_000, 2_000, cached_input_tokens=100_000)),
    Case("openai-failed-call-input-only", "openai", "gpt-4o", (OPENAI, "gpt-4o"), t(700, 0)),
    # --- Anthropic ------------------------------------------------------------------------
    Case("anthropic-basic", "anthropic", "claude-sonnet-4-5-20250929", (ANTHROPIC, "claude-sonnet-4-5-20250929"),
         t(2_000, 500)),
    Case("anthropic-cache-read", "anthropic", "claude-sonnet-4-5", (ANTHROPIC, "claude-sonnet-4-5"),
         t(60_000, 800, cached_input_tokens=55_000)),
    Case("anthropic-cache-write-5m", "anthropic", "claude-sonnet-4-5", (ANTHROPIC, "claude-sonnet-4-5"),
         t(20_000, 300, cache_write_tokens=18_000)),
    Case("anthropic-cache-write-1h", "anthropic", "claude-opus-4-1", (ANTHROPIC, "claude-opus-4-1"),
         t(30_000, 1_000, cache_write_tokens=25_000, cache_write_1h_tokens=25_000)),
    Case("anthropic-cache-mixed", "anthropic", "claude-haiku-4-5", (ANTHROPIC, "claude-haiku-4-5"),
         t(90_000, 2_000, cached_input_tokens=40_000, cache_write_tokens=30_000, cache_write_1h_tokens=10_000)),
    Case("anthropic-thinking", "anthropic", "claude-sonnet-4-5", (ANTHROPIC, "claude-sonnet-4-5"),
         t(5_000, 12_000, reasoning_tokens=10_000)),
    Case("anthropic-tier-just-below", "anthropic", "claude-sonnet-4-5", (ANTHROPIC, "claude-sonnet-4-5"),
         t(200_000, 1_000)),
    Case("anthropic-tier-just-above", "anthropic", "claude-sonnet-4-5", (ANTHROPIC, "claude-sonnet-4-5"),
         t(200_001, 1_000)),
    Case("anthropic-tier-above-with-caches", "anthropic", "claude-sonnet-4-5", (ANTHROPIC, "claude-sonnet-4-5"),
         t(250_000, 4_000, cached_input_tokens=150_000, cache_write_tokens=80_000, cache_write_1h_tokens=20_000)),
    Case("anthropic-tiers-before-change", "anthropic", "claude-sonnet-4-6", (ANTHROPIC, "claude-sonnet-4-6"),
         t(250_000, 4_000), at="2026-03-12T23:59:59+00:00"),
    Case("anthropic-tiers-after-change", "anthropic", "claude-sonnet-4-6", (ANTHROPIC, "claude-sonnet-4-6"),
         t(250_000, 4_000), at="2026-03-13T00:00:00+00:00"),
    Case("anthropic-alias-latest", "anthropic", "claude-3-5-haiku-latest", (ANTHROPIC, "claude-3-5-haiku-latest"),
         t(3_000, 300)),
    Case("anthropic-dotted-alias", "claude", "claude-opus-4.6", (ANTHROPIC, "claude-opus-4.6"), t(10_000, 1_000)),
    Case("anthropic-batch", "anthropic", "claude-sonnet-4-5", (ANTHROPIC, "claude-sonnet-4-5"),
         t(30_000, 3_000, cached_input_tokens=10_000), tier="batch", context=CONTEXTS["batch"]),
    Case("anthropic-batch-tier-above", "anthropic", "claude-sonnet-4-5", (ANTHROPIC, "claude-sonnet-4-5"),
         t(210_000, 3_000), tier="batch", context=CONTEXTS["batch"]),
    Case("anthropic-fast-mode", "anthropic", "claude-opus-4-8", (ANTHROPIC, "claude-opus-4-8"), t(8_000, 2_000),
         tier="fast", context={"speed": "fast"}),
    # --- Google ---------------------------------------------------------------------------
    Case("google-basic", "google", "gemini-2.5-flash", (GOOGLE, "gemini-2.5-flash"), t(7_777, 333)),
    Case("google-models-prefix", "google", "models/gemini-2.5-flash", (GOOGLE, "gemini-2.5-flash"), t(7_777, 333)),
    Case("google-gemini-spelling", "gemini", "gemini-2.5-flash-lite", (GOOGLE, "gemini-2.5-flash-lite"), t(900, 90)),
    Case("google-vertex-spelling", "vertex_ai", "gemini-2.0-flash", (GOOGLE, "gemini-2.0-flash"), t(900, 90)),
    Case("google-cached", "google", "gemini-2.5-flash", (GOOGLE, "gemini-2.5-flash"),
         t(100_000, 2_000, cached_input_tokens=80_000)),
    Case("google-thinking", "google", "gemini-2.5-flash", (GOOGLE, "gemini-2.5-flash"),
         t(4_000, 6_000, reasoning_tokens=5_200)),
    Case("google-audio-in", "google", "gemini-2.5-flash", (GOOGLE, "gemini-2.5-flash"),
         t(20_000, 500, input_audio_tokens=15_000)),
    Case("google-cached-audio", "google", "gemini-2.5-flash", (GOOGLE, "gemini-2.5-flash"),
         t(30_000, 500, input_audio_tokens=20_000, cached_input_tokens=25_000, cached_audio_tokens=15_000)),
    Case("google-live-audio-out", "google", "gemini-live-2.5-flash", (GOOGLE, "gemini-live-2.5-flash"),
         t(6_000, 4_000, input_audio_tokens=5_000, output_audio_tokens=3_500)),
    Case("google-tier-just-below", "google", "gemini-2.5-pro", (GOOGLE, "gemini-2.5-pro"), t(200_000, 5_000)),
    Case("google-tier-just-above", "google", "gemini-2.5-pro", (GOOGLE, "gemini-2.5-pro"), t(200_001, 5_000)),
    Case("google-tier-above-cached", "google", "gemini-2.5-pro", (GOOGLE, "gemini-2.5-pro"),
         t(400_000, 8_000, cached_input_tokens=300_000, reasoning_tokens=6_000)),
    Case("google-batch", "google", "gemini-2.5-flash", (GOOGLE, "gemini-2.5-flash"), t(50_000, 5_000), tier="batch",
         context=CONTEXTS["batch"]),
    Case("google-batch-before-batch-prices", "google", "gemini-3-flash-preview", (GOOGLE, "gemini-3-flash-preview"),
         t(50_000, 5_000), tier="batch", context=CONTEXTS["batch"], at="2026-10-13T12:00:00+00:00"),
    Case("google-batch-after-batch-prices", "google", "gemini-3-flash-preview", (GOOGLE, "gemini-3-flash-preview"),
         t(50_000, 5_000), tier="batch", context=CONTEXTS["batch"], at="2026-10-14T00:00:00+00:00"),
    Case("google-embedding", "google", "gemini-embedding-2", (GOOGLE, "gemini-embedding-2"), t(10_000, 0)),
]


def money(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_cost_equals_the_catalog_calculation(client, case):
    r = client.post("/api/calls", json=case.body())
    assert r.status_code == 201, r.json
    assert r.json["priced"], f"{case.model} was not priced"
    provider_id, model_ref = case.catalog
    expected = calc_price(case.usage(), model_ref, provider_id=provider_id,
                          genai_request_timestamp=datetime.fromisoformat(case.at), price_context=case.context)
    assert money(r.json["inputCost"]) == expected.input_price
    assert money(r.json["outputCost"]) == expected.output_price
    assert money(r.json["totalCost"]) == expected.total_price
    assert {name: r.json[JSON_NAMES[name]] for name in case.tokens} == case.tokens  # every token type is stored


# --- negotiated rates: overrides win over the catalog, a company's over a global one --------------

GLOBAL = TokenPrices(input_per_mtok=Decimal("2"), output_per_mtok=Decimal("8"), cache_read_per_mtok=Decimal("1"))
ACME = TokenPrices(input_per_mtok=Decimal("1.5"), output_per_mtok=Decimal("6.25"))
ACME_BATCH = TokenPrices(input_per_mtok=Decimal("0.7"), output_per_mtok=Decimal("3"))
TIERED = TokenPrices(input_per_mtok=Decimal("2"), output_per_mtok=Decimal("10"),
                     tiers={"input_per_mtok": [{"start": 100_000, "price": "4"}],
                            "output_per_mtok": [{"start": 100_000, "price": "15"}]})
STARTS = datetime(2026, 9, 1, tzinfo=UTC)


def engine_price(prices: TokenPrices) -> ModelPrice:
    """The override as the catalog's own price type, built by hand from the literal values."""
    def value(column: str):
        base = getattr(prices, column)
        steps = prices.tiers.get(column)
        return TieredPrices(base, [Tier(s["start"], Decimal(s["price"])) for s in steps]) if steps else base

    return ModelPrice(input_mtok=value("input_per_mtok"), output_mtok=value("output_per_mtok"),
                      cache_read_mtok=prices.cache_read_per_mtok)


@pytest.fixture
def overrides(session):
    for company, tier, prices, model in [(None, "standard", GLOBAL, "gpt-4o"), ("acme", "standard", ACME, "gpt-4o"),
                                         ("acme", "batch", ACME_BATCH, "gpt-4o"),
                                         (None, "standard", TIERED, "claude-sonnet-4-5")]:
        set_override(session, Override(provider="anthropic" if model.startswith("claude") else "openai", model=model,
                                       valid_from=STARTS, company_id=company, service_tier=tier, prices=prices))
    session.commit()


OVERRIDE_CASES = [
    # id, company, model as sent, tier, timestamp, tokens, prices expected (None: the catalog's)
    ("global-beats-catalog", "globex", "gpt-4o", "standard", NOW, t(10_000, 1_000, cached_input_tokens=4_000), GLOBAL),
    ("alias-uses-the-override", "globex", "gpt-4o-2024-08-06", "standard", NOW, t(10_000, 1_000), GLOBAL),
    ("company-beats-global", "acme", "gpt-4o", "standard", NOW, t(10_000, 1_000), ACME),
    ("company-tier-override", "acme", "gpt-4o", "batch", NOW, t(10_000, 1_000), ACME_BATCH),
    ("before-the-override-starts", "acme", "gpt-4o", "standard", "2026-08-31T23:59:59+00:00", t(10_000, 1_000), None),
    ("override-tier-just-below", "globex", "claude-sonnet-4-5", "standard", NOW, t(100_000, 2_000), TIERED),
    ("override-tier-just-above", "globex", "claude-sonnet-4-5", "standard", NOW, t(100_001, 2_000), TIERED),
]


@pytest.mark.parametrize(("company", "model", "tier", "at", "tokens", "prices"),
                         [case[1:] for case in OVERRIDE_CASES], ids=[case[0] for case in OVERRIDE_CASES])
def test_override_precedence(client, overrides, company, model, tier, at, tokens, prices):
    case = Case("override", "anthropic" if model.startswith("claude") else "openai", model,
                ("anthropic" if model.startswith("claude") else "openai", model), tokens, at=at, tier=tier)
    r = client.post("/api/calls", json=case.body() | {"companyId": company})
    assert r.status_code == 201, r.json
    if prices is None:
        expected = calc_price(case.usage(), model, provider_id=case.catalog[0],
                              genai_request_timestamp=datetime.fromisoformat(at))
        expected_input, expected_output = expected.input_price, expected.output_price
    else:
        expected = engine_price(prices).calc_price(case.usage())
        expected_input, expected_output = expected["input_price"], expected["output_price"]
    assert money(r.json["inputCost"]) == expected_input
    assert money(r.json["outputCost"]) == expected_output


def test_the_table_is_large_enough():
    assert len(CASES) + len(OVERRIDE_CASES) >= 40
    assert {case.catalog[0] for case in CASES} == {OPENAI, ANTHROPIC, GOOGLE}
