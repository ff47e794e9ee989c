"""Pricing: our stored prices and cost arithmetic against the catalog's own calculation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price
from hypothesis import given, settings
from hypothesis import strategies as st

from app.pricing import PriceBook, TokenUsage, compute_cost
from app.pricing.catalog import ALWAYS, catalog_prices, normalise_model, normalise_provider, resolve
from app.pricing.cost import CallCost, EnginePrice, engine_price, to_genai
from app.pricing.store import PriceRef

CASES = [
    # provider, model, timestamp, input, cached, output
    ("openai", "gpt-4o", "2026-01-10T00:00:00+00:00", 12_345, 0, 678),
    ("openai", "gpt-4o-2024-08-06", "2026-01-10T00:00:00+00:00", 12_345, 4_096, 678),
    ("openai", "gpt-4o-mini", "2026-01-10T00:00:00+00:00", 1, 0, 1),
    ("openai", "o3", "2025-06-09T12:00:00+00:00", 50_000, 10_000, 20_000),
    ("openai", "o3", "2025-06-10T12:00:00+00:00", 50_000, 10_000, 20_000),
    ("openai", "text-embedding-3-small", "2026-01-10T00:00:00+00:00", 8_000, 0, 0),
    ("anthropic", "claude-sonnet-4-5-20250929", "2026-01-10T00:00:00+00:00", 100_000, 60_000, 2_000),
    ("anthropic", "claude-3-5-haiku-latest", "2026-01-10T00:00:00+00:00", 3_000, 0, 300),
    ("google", "gemini-2.5-flash", "2026-01-10T00:00:00+00:00", 7_777, 1_111, 333),
    ("google", "models/gemini-2.5-flash", "2026-01-10T00:00:00+00:00", 7_777, 0, 333),
    ("google", "gemini-2.5-pro", "2026-01-10T00:00:00+00:00", 150_000, 0, 5_000),  # below the 200k tier
]


@pytest.mark.parametrize(("provider", "model", "ts", "tokens_in", "cached", "tokens_out"), CASES)
def test_cost_equals_the_catalog_calculation(session, provider, model, ts, tokens_in, cached, tokens_out):
    at = datetime.fromisoformat(ts)
    price = PriceBook(session).price_at(provider, model, at)
    assert price is not None, f"no stored price for {provider}/{model}"
    ours = compute_cost(price, TokenUsage(input_tokens=tokens_in, cached_input_tokens=cached, output_tokens=tokens_out))
    provider_id = normalise_provider(provider)
    theirs = calc_price(
        Usage(input_tokens=tokens_in, cache_read_tokens=cached, output_tokens=tokens_out),
        normalise_model(provider_id, model),
        provider_id=provider_id,
        genai_request_timestamp=at,
    )
    assert ours.input_cost == theirs.input_price
    assert ours.output_cost == theirs.output_price
    assert ours.total_cost == theirs.total_price


def test_price_history_picks_the_row_in_force(session):
    book = PriceBook(session)
    cut = datetime(2025, 6, 10, tzinfo=UTC)
    assert book.price_at("openai", "o3", datetime(2025, 6, 9, 23, 59, 59, tzinfo=UTC)).input_per_mtok == 10
    assert book.price_at("openai", "o3", cut).input_per_mtok == 2
    assert book.price_at("openai", "o3", cut).valid_from == cut


def test_unknown_models_have_no_price(session):
    assert PriceBook(session).price_at("acme", "acme-large-9", datetime.now(UTC)) is None
    assert resolve("openai", "definitely-not-a-model") is None


def test_catalog_has_dated_prices_for_the_major_providers():
    prices = list(catalog_prices())
    providers = {p.provider for p in prices}
    assert {"openai", "anthropic", "google"} <= providers
    assert any(p.model == "o3" and p.valid_from > ALWAYS for p in prices)
    assert all(p.valid_from.tzinfo is not None for p in prices)


def price(**kw) -> PriceRef:
    return PriceRef(**(dict(id=1, provider="p", model="m", valid_from=ALWAYS, source="test") | kw))


def test_cached_tokens_fall_back_to_the_input_price_and_are_not_counted_twice():
    cost = compute_cost(price(input_per_mtok=Decimal("2"), output_per_mtok=Decimal("8")),
                        TokenUsage(input_tokens=1_000_000, cached_input_tokens=400_000, output_tokens=0))
    assert cost.input_cost == Decimal("2")  # 600k + 400k at $2, not 1.4M tokens


def test_a_price_without_an_output_rate_cannot_price_output_tokens():
    embedding = price(input_per_mtok=Decimal("0.02"))
    assert compute_cost(embedding, TokenUsage(input_tokens=10, output_tokens=1)) is None
    assert compute_cost(embedding, TokenUsage(input_tokens=10, output_tokens=0)).total_cost == Decimal("0.0000002")


def test_costs_keep_every_digit_for_huge_token_counts():
    cost = compute_cost(price(input_per_mtok=Decimal("0.000001234567"), output_per_mtok=Decimal("123.456789")),
                        TokenUsage(input_tokens=999_999_999_999, output_tokens=999_999_999_999))
    assert cost.input_cost == Decimal("1.234566999998765433")
    assert cost.output_cost == Decimal("123456788.999876543211")


USAGES = [
    TokenUsage(input_tokens=1_000, output_tokens=500),
    TokenUsage(input_tokens=250_000, output_tokens=40_000, cached_input_tokens=100_000, reasoning_tokens=30_000),
    TokenUsage(input_tokens=90_000, output_tokens=1, cached_input_tokens=20_000, cache_write_tokens=30_000,
               cache_write_1h_tokens=10_000),
    TokenUsage(input_tokens=5_000, output_tokens=3_000, input_audio_tokens=2_000, cached_audio_tokens=500,
               cached_input_tokens=1_000, output_audio_tokens=1_000),
    TokenUsage(input_tokens=0, output_tokens=0),
]


def test_the_engine_with_units_resolved_once_prices_as_calc_price_does():
    """`EnginePrice` hoists the per-price work out of genai's `calc_price`: same answers, every
    catalog price (tiers included) and usage shape."""
    checked = 0
    for price in catalog_prices():
        theirs_engine = to_genai(price)
        ours_engine = EnginePrice(theirs_engine)
        for usage in USAGES:
            try:
                theirs = theirs_engine.calc_price(usage.to_genai())
            except Exception as error:  # the engine refuses some usages for some prices: so must we
                with pytest.raises(type(error)):
                    ours_engine.calc_price(usage.to_genai())
                continue
            ours = ours_engine.calc_price(usage.to_genai())
            assert (ours["input_price"], ours["output_price"]) == (theirs["input_price"], theirs["output_price"])
            checked += 1
    assert checked > 1_000


PLAIN_USAGES = [  # only text input, cache reads and output: what integer arithmetic prices
    TokenUsage(input_tokens=0, output_tokens=1),
    TokenUsage(input_tokens=1, output_tokens=0),
    TokenUsage(input_tokens=1_234, output_tokens=567, cached_input_tokens=1_234),
    TokenUsage(input_tokens=120_000, output_tokens=9_000, cached_input_tokens=64_000, reasoning_tokens=8_000),
    TokenUsage(input_tokens=199_999, output_tokens=70_000),
    TokenUsage(input_tokens=200_001, output_tokens=70_000, cached_input_tokens=100_000),
    TokenUsage(input_tokens=999_999_999_999, output_tokens=999_999_999_999, cached_input_tokens=1),
]


def _costs(price, usage, make_engine):
    try:
        return compute_cost(price, usage, make_engine(price))
    except Exception as error:  # the engine refuses some prices and usages: so must the integer path
        return type(error)


def _engine_only(price):
    return EnginePrice(to_genai(price))  # no PlainRates: every call through the engine


def test_integer_arithmetic_prices_exactly_as_the_engine_does():
    """Every catalog price × usage shape: `engine_price` (integer arithmetic where it applies) and
    the engine alone give the same costs, digit for digit, or refuse alike."""
    plain = 0
    for catalog_price in catalog_prices():
        ours, engine_only = engine_price(catalog_price), _engine_only(catalog_price)
        for usage in USAGES + PLAIN_USAGES:
            expected = _costs(catalog_price, usage, lambda _: engine_only)
            assert _costs(catalog_price, usage, lambda _: ours) == expected, (catalog_price, usage)
            plain += ours.plain is not None and isinstance(expected, CallCost) and ours.plain.cost(usage) is not None
    assert plain > 5_000  # the integer path was taken, not only the engine's


@settings(max_examples=300, deadline=None)
@given(rates=st.tuples(*[st.one_of(st.none(), st.decimals(min_value=0, max_value=1000, places=14))] * 3),
       input_tokens=st.integers(0, 10**12), output_tokens=st.integers(0, 10**12), data=st.data())
def test_integer_arithmetic_matches_the_engine_for_any_plain_price(rates, input_tokens, output_tokens, data):
    input_rate, read_rate, output_rate = rates
    cached = data.draw(st.integers(0, input_tokens))
    reasoning = data.draw(st.integers(0, output_tokens))
    some = price(input_per_mtok=input_rate, cache_read_per_mtok=read_rate, output_per_mtok=output_rate)
    usage = TokenUsage(input_tokens=input_tokens, output_tokens=output_tokens, cached_input_tokens=cached,
                       reasoning_tokens=reasoning)
    assert _costs(some, usage, engine_price) == _costs(some, usage, _engine_only)
