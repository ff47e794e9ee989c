"""Time-of-day prices (DeepSeek's peak hours): every catalog model with daily windows, priced by
the ledger just inside and just outside each window's edges, costs exactly what genai-prices'
own `calc_price` gives for the same timestamp and usage."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price, data_snapshot, types

from app.pricing import PriceBook
from app.pricing.usage import TokenUsage
from tests.calls import post_call

USAGE = TokenUsage(input_tokens=10_000, cached_input_tokens=2_000, output_tokens=1_000)


def _windowed_models() -> list[tuple[str, str, list[tuple[time, time]]]]:
    found = []
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            prices = [] if isinstance(model.prices, types.ModelPrice) else model.prices
            windows = sorted({(c.constraint.start_time, c.constraint.end_time) for c in prices
                              if isinstance(c.constraint, types.TimeOfDateConstraint)})
            if windows:
                found.append((provider.id, model.id, windows))
    return found


WINDOWED = _windowed_models()
DAYS = [date(2026, 3, 5), date(2026, 11, 20)]  # before and after the v4 models' price change


def _moments(windows: list[tuple[time, time]]) -> list[datetime]:
    """A second before, at, and a second before the end of, each window, on each day (UTC)."""
    out = []
    for day in DAYS:
        for start, end in windows:
            for edge in (start, end):
                at = datetime.combine(day, edge.replace(tzinfo=None), UTC)
                out += [at - timedelta(seconds=1), at, at + timedelta(seconds=1)]
    return out


def test_the_catalog_has_time_windows_to_test():
    assert {model for _, model, _ in WINDOWED} >= {"deepseek-v4-pro", "deepseek-chat"}


@pytest.mark.parametrize(("provider", "model", "windows"), WINDOWED, ids=[m for _, m, _ in WINDOWED])
def test_every_windowed_model_costs_what_genai_prices_says_at_each_edge(session, provider, model, windows):
    book = PriceBook(session)
    for moment in _moments(windows):
        expected = calc_price(Usage(input_tokens=10_000, cache_read_tokens=2_000, output_tokens=1_000), model,
                              provider_id=provider, genai_request_timestamp=moment)
        found = book.cost_at(provider, model, moment, USAGE)
        assert found is not None, (model, moment)
        price, cost = found
        assert (cost.input_cost, cost.output_cost) == (expected.input_price, expected.output_price), (
            model, moment, price.window_start, price.window_end)


def test_the_issues_deepseek_call_costs_the_peak_price(client):
    """deepseek-v4-pro, 10,000 input tokens (2,000 cache reads) and 1,000 output at 01:03 UTC: $0.014608
    by genai-prices' calculator, once billed at the off-peak $0.007304."""
    peak = post_call(client, provider="deepseek", model="deepseek-v4-pro", inputTokens=10_000,
                     cachedInputTokens=2_000, outputTokens=1_000, timestamp="2026-11-20T01:03:00+00:00")
    off_peak = post_call(client, provider="deepseek", model="deepseek-v4-pro", inputTokens=10_000,
                         cachedInputTokens=2_000, outputTokens=1_000, timestamp="2026-11-20T04:03:00+00:00")
    assert Decimal(peak["totalCost"]) == 2 * Decimal(off_peak["totalCost"])
    expected = calc_price(Usage(input_tokens=10_000, cache_read_tokens=2_000, output_tokens=1_000),
                          "deepseek-v4-pro", provider_id="deepseek",
                          genai_request_timestamp=datetime(2026, 11, 20, 1, 3, tzinfo=UTC))
    assert Decimal(peak["totalCost"]) == expected.total_price


def test_prices_show_their_windows(client):
    prices = client.get("/api/prices?provider=deepseek&model=deepseek-v4-pro&at=2026-11-20T01:30:00Z").json["prices"]
    assert [(p["windowStart"], p["windowEnd"]) for p in prices if p["serviceTier"] == "standard"] == [
        ("01:00:00", "04:00:00")]
    off = client.get("/api/prices?provider=deepseek&model=deepseek-v4-pro&at=2026-11-20T05:00:00Z").json["prices"]
    assert [(p["windowStart"], p["windowEnd"]) for p in off if p["serviceTier"] == "standard"] == [(None, None)]


def test_an_override_can_hold_only_in_a_daily_window(client):
    """A company's negotiated peak rate for gpt-4o, 22:00-02:00 UTC (across midnight): inside it the
    override prices the call, outside it the catalog does."""
    made = client.post("/api/prices/overrides", json={
        "provider": "openai", "model": "gpt-4o", "validFrom": "2026-03-01", "companyId": "night",
        "inputPerMtok": "1", "outputPerMtok": "2", "windowStart": "22:00", "windowEnd": "02:00"})
    assert made.status_code == 201, made.json
    assert (made.json["windowStart"], made.json["windowEnd"]) == ("22:00:00", "02:00:00")
    for at, overridden in (("2026-03-05T21:59:59+00:00", False), ("2026-03-05T22:00:00+00:00", True),
                           ("2026-03-06T01:59:59+00:00", True), ("2026-03-06T02:00:00+00:00", False)):
        call = post_call(client, company="night", timestamp=at)
        assert (call["priceId"] == made.json["id"]) is overridden, at


def test_a_window_needs_both_ends_that_differ(client, runner):
    body = {"provider": "openai", "model": "gpt-4o", "validFrom": "2026-03-01", "inputPerMtok": "1"}
    half = client.post("/api/prices/overrides", json=body | {"windowStart": "01:00"})
    assert half.status_code == 400 and "windowEnd" in half.json["errors"]["json"]
    empty = client.post("/api/prices/overrides", json=body | {"windowStart": "01:00", "windowEnd": "01:00"})
    assert empty.status_code == 400
    made = runner.invoke(args=["costs", "prices", "set", "--provider", "openai", "--model", "gpt-4o", "--from",
                               "2026-03-01", "--input", "1", "--output", "2", "--window", "01:00-04:00"])
    assert made.exit_code == 0, made.output
    listed = runner.invoke(args=["costs", "prices", "list", "--provider", "openai", "--model", "gpt-4o"])
    assert "01:00-04:00" in listed.output
    bad = runner.invoke(args=["costs", "prices", "set", "--provider", "openai", "--model", "gpt-4o", "--from",
                              "2026-03-01", "--input", "1", "--window", "1am-4am"])
    assert bad.exit_code == 2 and "HH:MM-HH:MM" in bad.output


def test_a_window_can_be_read_in_a_named_time_zone(client, runner):
    """09:00-17:00 Europe/Berlin: 08:00-16:00 UTC in winter, 07:00-15:00 UTC in summer (DST followed)."""
    made = client.post("/api/prices/overrides", json={
        "provider": "openai", "model": "gpt-4o", "validFrom": "2026-01-01", "companyId": "berlin",
        "inputPerMtok": "1", "outputPerMtok": "2", "windowStart": "09:00", "windowEnd": "17:00",
        "windowZone": "Europe/Berlin"})
    assert made.status_code == 201 and made.json["windowZone"] == "Europe/Berlin", made.json
    for at, overridden in (("2026-01-15T07:59:59+00:00", False), ("2026-01-15T08:00:00+00:00", True),
                           ("2026-01-15T15:59:59+00:00", True), ("2026-01-15T16:00:00+00:00", False),
                           ("2026-07-15T07:00:00+00:00", True), ("2026-07-15T15:00:00+00:00", False)):
        assert (post_call(client, company="berlin", timestamp=at)["priceId"] == made.json["id"]) is overridden, at
    bad = client.post("/api/prices/overrides", json={
        "provider": "openai", "model": "gpt-4o", "validFrom": "2026-01-01", "inputPerMtok": "1",
        "windowStart": "09:00", "windowEnd": "17:00", "windowZone": "Mars/Olympus"})
    assert bad.status_code == 400 and "windowZone" in bad.json["errors"]["json"]
    cli = runner.invoke(args=["costs", "prices", "set", "--provider", "openai", "--model", "gpt-4o", "--from",
                              "2026-02-01", "--input", "1", "--output", "2", "--window", "09:00-17:00",
                              "--zone", "Asia/Shanghai"])
    assert cli.exit_code == 0, cli.output
    assert "09:00-17:00 Asia/Shanghai" in runner.invoke(
        args=["costs", "prices", "list", "--provider", "openai", "--model", "gpt-4o"]).output


def test_repricing_honours_the_windows(client, session, runner):
    """A DeepSeek peak-hour call stored while the catalog lacked its windows (as before this change)
    is billed at the peak price once the catalog is synced and the range repriced."""
    from sqlalchemy import delete

    from app.models import ModelPrice

    session.execute(delete(ModelPrice).where(ModelPrice.provider == "deepseek", ModelPrice.window_start.is_not(None)))
    session.commit()
    call = post_call(client, provider="deepseek", model="deepseek-v4-pro", inputTokens=10_000,
                     cachedInputTokens=2_000, outputTokens=1_000, timestamp="2026-11-20T01:03:00+00:00")
    assert call["totalCost"] == "0.007304"  # the off-peak price, as the issue found
    assert runner.invoke(args=["costs", "prices", "sync"]).exit_code == 0
    repriced = runner.invoke(args=["costs", "reprice", "--all", "--since", "2026-11-20", "--until", "2026-11-20"])
    assert repriced.exit_code == 0, repriced.output
    records = client.get("/api/costs?model=deepseek-v4-pro&startDate=2026-11-20&endDate=2026-11-20").json["records"]
    assert [r["totalCost"] for r in records] == ["0.014608"]
