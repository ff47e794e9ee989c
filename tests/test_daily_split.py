"""GET /api/costs/daily?by=…&top=…: each day's cost split by the period's top keys, through the
real app and database (calls stored through the ingest endpoint, priced from the catalog:
gpt-4o $2.50 in / $10 out per MTok, gpt-4o-mini $0.15 / $0.60; `acme/mystery-model` has no price)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.committed import partitions_restored
from tests.test_analytics import call, store

# Two months' edges: 2026-03-29 .. 2026-04-02 (5 days).
RANGE = "startDate=2026-03-29&endDate=2026-04-02"
KEYS = ("model", "provider", "assistant", "user", "endpoint")


@pytest.fixture(autouse=True)
def _no_partitions_left(engine):
    """Ingest may make the months these calls fall in: dropped afterwards if it did."""
    with partitions_restored(engine):
        yield


@pytest.fixture
def spread(client):
    """Calls over two months, several keys per day, two companies; some without an assistant."""
    store(
        client,
        # 03-29: gpt-4o 0.0075 (a1) + gpt-4o-mini 0.00075 (no assistant)
        call("2026-03-29T10:00:00+00:00", assistantId="a1", endpoint="/chat"),
        call("2026-03-29T11:00:00+00:00", model="gpt-4o-mini", outputTokens=1000, userId="u2"),
        # 03-31: gpt-4o 0.015 (a2) + mystery unpriced, failed (no assistant)
        call("2026-03-31T23:59:59+00:00", inputTokens=2000, outputTokens=1000, assistantId="a2", userId="u2",
             endpoint="/search"),
        call("2026-03-31T12:00:00+00:00", provider="acme", model="mystery-model", inputTokens=100, outputTokens=50,
             success=False, error="boom"),
        # 04-01: gpt-4o-mini 0.0015 (a1), gpt-4o 0.0075 (no assistant), in company c2: gpt-4o 0.0075
        call("2026-04-01T00:00:00+00:00", model="gpt-4o-mini", inputTokens=2000, outputTokens=2000,
             assistantId="a1", userId="u3"),
        call("2026-04-01T08:00:00+00:00", endpoint="/chat"),
        call("2026-04-01T09:00:00+00:00", companyId="c2", userId="u9", assistantId="z"),
        # 04-03: outside the range
        call("2026-04-03T00:00:00+00:00", model="gpt-4o-mini"),
        # 03-28: outside the range
        call("2026-03-28T23:59:59+00:00", model="gpt-4o-mini"),
    )


def _totals(day: dict) -> tuple:
    return day["date"], day["cost"], day["tokens"], day["calls"], day["failures"], day["unpriced"]


def test_daily_split_by_model(client, spread):
    r = client.get(f"/api/costs/daily?{RANGE}&by=model&top=1&companyId=c1")
    assert r.status_code == 200, r.json
    assert r.json == {"by": "model", "keys": ["gpt-4o"], "days": [
        {"date": "2026-03-29", "cost": "0.00825", "tokens": 3500, "calls": 2, "failures": 0, "unpriced": 0,
         "split": ["0.0075"], "other": "0.00075"},
        {"date": "2026-03-30", "cost": "0", "tokens": 0, "calls": 0, "failures": 0, "unpriced": 0,
         "split": ["0"], "other": "0"},
        {"date": "2026-03-31", "cost": "0.015", "tokens": 3150, "calls": 2, "failures": 1, "unpriced": 1,
         "split": ["0.015"], "other": "0"},
        {"date": "2026-04-01", "cost": "0.009", "tokens": 5500, "calls": 2, "failures": 0, "unpriced": 0,
         "split": ["0.0075"], "other": "0.0015"},
        {"date": "2026-04-02", "cost": "0", "tokens": 0, "calls": 0, "failures": 0, "unpriced": 0,
         "split": ["0"], "other": "0"},
    ]}


@pytest.mark.parametrize("by", KEYS)
@pytest.mark.parametrize("top", [1, 2, 5, 20])
def test_split_adds_up_to_the_days_of_daily_and_keys_are_the_breakdowns_top(client, spread, by, top):
    split = client.get(f"/api/costs/daily?{RANGE}&by={by}&top={top}")
    assert split.status_code == 200, split.json
    body = split.json
    plain = client.get(f"/api/costs/daily?{RANGE}").json["days"]
    assert [_totals(day) for day in body["days"]] == [_totals(day) for day in plain]
    entries = client.get(f"/api/costs/breakdown?by={by}&{RANGE}&limit={top}").json["entries"]
    assert body["by"] == by and body["keys"] == [entry["key"] for entry in entries]
    for day in body["days"]:
        assert len(day["split"]) == len(body["keys"])
        assert sum(map(Decimal, day["split"]), Decimal(day["other"])) == Decimal(day["cost"])
    for index, entry in enumerate(entries):  # each key's split over the days is its breakdown cost
        assert sum(Decimal(day["split"][index]) for day in body["days"]) == Decimal(entry["cost"])


def test_top_defaults_to_five(client):
    store(client, *(call(f"2026-03-30T0{n}:00:00+00:00", userId=f"user{n}", inputTokens=1000 * (n + 1))
                    for n in range(7)))
    body = client.get(f"/api/costs/daily?{RANGE}&by=user").json
    assert body["keys"] == ["user6", "user5", "user4", "user3", "user2"]
    [day] = [day for day in body["days"] if day["date"] == "2026-03-30"]
    assert day["split"] == ["0.0225", "0.02", "0.0175", "0.015", "0.0125"] and day["other"] == "0.0175"


def test_ties_are_broken_by_calls_then_key(client):
    store(client, call("2026-03-30T01:00:00+00:00", userId="b"), call("2026-03-30T02:00:00+00:00", userId="c"),
          call("2026-03-30T03:00:00+00:00", userId="a"),
          call("2026-03-30T04:00:00+00:00", userId="c", inputTokens=0, outputTokens=0))
    assert client.get(f"/api/costs/daily?{RANGE}&by=user&top=3").json["keys"] == ["c", "a", "b"]


def test_calls_without_an_assistant_are_the_null_key(client, spread):
    body = client.get(f"/api/costs/daily?{RANGE}&by=assistant&top=2&companyId=c1").json
    # No assistant: 0.00075 + 0 + 0.0075 = 0.00825 (3 calls); a2: 0.015; a1: 0.0075 + 0.0015 = 0.009.
    assert body["keys"] == ["a2", "a1"]
    body = client.get(f"/api/costs/daily?{RANGE}&by=assistant&top=3&companyId=c1").json
    assert body["keys"] == ["a2", "a1", None]
    assert [(day["split"], day["other"]) for day in body["days"]] == [
        (["0", "0.0075", "0.00075"], "0"), (["0", "0", "0"], "0"), (["0.015", "0", "0"], "0"),
        (["0", "0.0015", "0.0075"], "0"), (["0", "0", "0"], "0")]


def test_a_company_key_splits_its_company_only(client, make_client, spread):
    mine = make_client("c2", "read").get(f"/api/costs/daily?{RANGE}&by=assistant")
    assert mine.status_code == 200, mine.json
    assert mine.json == client.get(f"/api/costs/daily?{RANGE}&by=assistant&companyId=c2").json
    assert mine.json["keys"] == ["z"]
    assert [(day["cost"], day["split"], day["other"]) for day in mine.json["days"]] == [
        ("0", ["0"], "0"), ("0", ["0"], "0"), ("0", ["0"], "0"), ("0.0075", ["0.0075"], "0"), ("0", ["0"], "0")]
    assert make_client("c2", "read").get(f"/api/costs/daily?{RANGE}&by=model&companyId=c1").status_code == 403


def test_an_empty_range_has_no_keys(client):
    body = client.get("/api/costs/daily?startDate=2026-03-29&endDate=2026-03-30&by=model&companyId=nobody").json
    assert body == {"by": "model", "keys": [], "days": [
        {"date": day, "cost": "0", "tokens": 0, "calls": 0, "failures": 0, "unpriced": 0, "split": [], "other": "0"}
        for day in ("2026-03-29", "2026-03-30")]}


def test_without_by_the_answer_is_unchanged(client, spread):
    body = client.get(f"/api/costs/daily?{RANGE}").json
    assert set(body) == {"days"}
    assert all(set(day) == {"date", "cost", "tokens", "calls", "failures", "unpriced"} for day in body["days"])


@pytest.mark.parametrize(("query", "field"), [
    ("top=3", "top"),
    ("by=model&top=0", "top"),
    ("by=model&top=21", "top"),
    ("by=model&top=x", "top"),
    ("by=day", "by"),
    ("by=project", "by"),
    ("by=", "by"),
])
def test_bad_split_is_400_naming_the_field(client, query, field):
    r = client.get(f"/api/costs/daily?{RANGE}&{query}")
    assert r.status_code == 400, r.json
    assert set(r.json["errors"]["query"]) == {field}, r.json


def test_the_split_answer_is_documented(client):
    spec = client.get("/openapi.json").json
    params = {p["name"] for p in spec["paths"]["/api/costs/daily"]["get"]["parameters"]}
    assert {"by", "top"} <= params
    schemas = spec["components"]["schemas"]
    assert {"by", "keys", "days"} <= set(schemas["Daily"]["properties"])
    day = schemas["DayTotal"]["properties"]
    assert day["other"]["format"] == "decimal" and day["split"]["items"]["format"] == "decimal"
