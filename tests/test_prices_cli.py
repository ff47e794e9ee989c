"""`flask costs prices list` in table, csv and json, and `prices sync` idempotence."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import func, select

from app.models import ModelPrice
from app.pricing.catalog import CATALOG_SOURCE

# o3 before and after OpenAI's 2025-06-10 price cut (per million tokens).
O3_BEFORE = {"input_per_mtok": "10", "output_per_mtok": "40"}
O3_AFTER = {"input_per_mtok": "2", "output_per_mtok": "8"}


def prices_list(runner, *args: str) -> str:
    result = runner.invoke(args=["costs", "prices", "list", "--provider", "openai", "--model", "o3", "--tier",
                                 "standard", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize(("at", "expected"), [("2025-06-09", O3_BEFORE), ("2025-06-10", O3_AFTER)])
def test_json_shows_the_price_in_force_as_exact_strings(runner, at, expected):
    [price] = json.loads(prices_list(runner, "--at", at, "--format", "json"))
    assert {key: price[key] for key in expected} == expected
    assert (price["provider"], price["model"], price["source"]) == ("openai", "o3", CATALOG_SOURCE)
    assert isinstance(price["id"], int) and price["cache_write_per_mtok"] is None


@pytest.mark.parametrize(("at", "expected"), [("2025-06-09T23:59:59", O3_BEFORE), ("2025-06-10", O3_AFTER)])
def test_csv_shows_the_price_in_force(runner, at, expected):
    [price] = list(csv.DictReader(io.StringIO(prices_list(runner, "--at", at, "--format", "csv"))))
    assert {key: price[key] for key in expected} == expected
    assert price["cache_write_per_mtok"] == ""


def test_table_shows_the_price_in_force(runner):
    before = prices_list(runner, "--at", "2025-06-09")
    after = prices_list(runner, "--at", "2025-06-10", "--format", "table")
    assert "per million tokens" in before.splitlines()[0]
    [before_row] = [line.split() for line in before.splitlines() if " o3 " in line]
    [after_row] = [line.split() for line in after.splitlines() if " o3 " in line]
    assert before_row[3:8] == ["standard", "catalog", "1970-01-01", "10", "40"]
    assert after_row[3:8] == ["standard", "catalog", "2025-06-10", "2", "8"]


def test_without_at_every_dated_price_is_listed_in_order(runner):
    prices = json.loads(prices_list(runner, "--format", "json"))
    assert [(p["valid_from"], p["input_per_mtok"]) for p in prices] == [
        ("1970-01-01T00:00:00+00:00", "10"), ("2025-06-10T00:00:00+00:00", "2")]
    rows = list(csv.reader(io.StringIO(prices_list(runner, "--format", "csv"))))
    assert rows[0] == ["id", "provider", "model", "service_tier", "kind", "company_id", "valid_from",
                       "window_start", "window_end", "window_zone", "input_per_mtok", "output_per_mtok",
                       "cache_read_per_mtok", "cache_write_per_mtok",
                       "cache_write_1h_per_mtok", "input_audio_per_mtok", "cached_audio_per_mtok",
                       "output_audio_per_mtok", "tiers", "source"]
    assert len(rows) == 3


def test_sync_is_idempotent(runner):
    first = runner.invoke(args=["costs", "prices", "sync"])  # the test database was synced at start
    second = runner.invoke(args=["costs", "prices", "sync"])
    for result in (first, second):
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"{CATALOG_SOURCE}: 0 added, 0 updated, ")
        assert int(result.stdout.split(", ")[2].split()[0]) > 100


def test_sync_into_an_empty_table_adds_everything_once(runner, session):
    session.query(ModelPrice).delete()  # rolled back with the test
    session.commit()
    first = runner.invoke(args=["costs", "prices", "sync"])
    added = int(first.stdout.split(": ")[1].split()[0])
    assert added > 100 and first.stdout.endswith(" 0 updated, 0 unchanged\n")
    assert session.scalar(select(func.count()).select_from(ModelPrice)) == added
    second = runner.invoke(args=["costs", "prices", "sync"])
    assert second.stdout == f"{CATALOG_SOURCE}: 0 added, 0 updated, {added} unchanged\n"


def test_sync_dry_run_says_what_an_upgrade_changes_and_what_it_would_cost(runner, session, client):
    """An older catalog, simulated: DeepSeek's peak rows missing and gpt-4o's price edited. The dry
    run lists both, reprices the last 30 days' calls of those models inside a rolled-back savepoint,
    and changes nothing; the real sync then applies it (and the price history records it)."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal
    from sqlalchemy import delete, func, select, update

    from app.models import LlmCall, ModelPrice, PriceChange

    session.execute(delete(ModelPrice).where(ModelPrice.provider == "deepseek", ModelPrice.window_start.is_not(None)))
    session.execute(update(ModelPrice).where(ModelPrice.provider == "openai", ModelPrice.model == "gpt-4o",
                                             ModelPrice.kind == "catalog", ModelPrice.service_tier == "standard")
                    .values(output_per_mtok=5))
    session.commit()
    when = (datetime.now(UTC) - timedelta(days=2)).replace(hour=12, minute=0, second=0, microsecond=0)
    call = client.post("/api/calls", json={"provider": "openai", "model": "gpt-4o", "inputTokens": 1000,
                                           "outputTokens": 1000, "timestamp": when.isoformat()}).json
    before = session.scalar(select(func.count()).select_from(ModelPrice))
    dry = runner.invoke(args=["costs", "prices", "sync", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "change openai/gpt-4o (standard)" in dry.output and "output_per_mtok: 5 -> 10" in dry.output
    assert "add    deepseek/deepseek-v4-pro (standard, 01:00-04:00 UTC)" in dry.output
    # The call: 1,000 × $2.50 + 1,000 × $5 per million = $0.0075 now, $0.0125 at the catalog's $10.
    assert call["totalCost"] == "0.0075"
    assert "would cost $0.0125 instead of $0.0075 (+$0.005)" in dry.output and "Nothing was changed" in dry.output
    assert session.scalar(select(func.count()).select_from(ModelPrice)) == before
    assert session.scalar(select(LlmCall.total_cost).where(LlmCall.id == call["id"])) == Decimal("0.0075")
    real = runner.invoke(args=["costs", "prices", "sync"])
    assert real.exit_code == 0 and "change openai/gpt-4o" in real.output
    again = runner.invoke(args=["costs", "prices", "sync", "--dry-run"]).output
    assert again.startswith("Dry run: 0 to add, 0 to change")
    assert session.scalar(select(func.count()).select_from(PriceChange).where(PriceChange.action == "update",
                                                                              PriceChange.model == "gpt-4o"))
