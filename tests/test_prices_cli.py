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
                       "window_start", "window_end", "input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok",
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
