"""Analytics routes (/api/costs/*, /analytics/cost/*) and services, through the real app and database.

Calls are stored through the real ingest endpoint; prices come from the catalog:
gpt-4o $2.50 in / $10 out per MTok, gpt-4o-mini $0.15 / $0.60; `acme/mystery-model` has no price.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from app import analytics

# The period most tests ask about: 2026-03-01 .. 2026-03-07 (7 days); the one before is 02-22 .. 02-28.
PERIOD = "startDate=2026-03-01&endDate=2026-03-07"


def sums(cost, tokens, calls, failures=0, unpriced=0, **key):
    """A breakdown entry as the API writes it."""
    return {**key, "cost": cost, "tokens": tokens, "calls": calls, "failures": failures, "unpriced": unpriced}


NOTHING_ELSE = {"cost": "0", "tokens": 0, "calls": 0, "failures": 0, "unpriced": 0, "keys": 0}


def call(timestamp, **overrides):
    body = {"provider": "openai", "model": "gpt-4o", "inputTokens": 1000, "outputTokens": 500,
            "companyId": "c1", "userId": "u1", "timestamp": timestamp}
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def store(client, *calls):
    r = client.post("/api/calls/batch", json={"calls": list(calls)})
    assert r.status_code == 200, r.json
    return [stored["id"] for stored in r.json["calls"]]


@pytest.fixture
def seeded(client):
    """Ten calls around the period; returns their ids by name."""
    names = ["a1_old", "a1_new", "mini", "failed_unpriced", "failed_priced", "next_day",
             "prev_first", "prev_last", "before_prev", "much_older"]
    ids = store(
        client,
        # In the period: 0.0075 + 0.015 + 0.00075 + 0 + 0.0075 = 0.03075, 8150 tokens, 5 calls.
        call("2026-03-05T10:00:00+00:00", assistantId="a1", assistantName="Old name", endpoint="/chat"),
        call("2026-03-06T09:00:00+00:00", userId="u2", inputTokens=2000, outputTokens=1000,
             assistantId="a1", assistantName="Helper", endpoint="/chat"),
        call("2026-03-06T23:59:59+00:00", model="gpt-4o-mini", outputTokens=1000, companyId="c2"),
        call("2026-03-03T12:00:00+00:00", provider="acme", model="mystery-model", inputTokens=100,
             outputTokens=50, success=False, error="boom", assistantId="a2", assistantName="Other"),
        # 00:30 at +01:00 is 23:30 UTC on the 7th: inside, on day 7.
        call("2026-03-08T00:30:00+01:00", userId="u3", success=False, assistantId="a1", endpoint="/search"),
        # Midnight after the last day: outside.
        call("2026-03-08T00:00:00+00:00"),
        # The previous period: 0.015, 3000 tokens, 2 calls.
        call("2026-02-22T00:00:00+00:00"),
        call("2026-02-28T23:00:00+00:00"),
        call("2026-02-21T23:59:59+00:00"),
        call("2026-01-10T08:00:00+00:00", assistantId="a1", assistantName="Ancient name"),
    )
    return dict(zip(names, ids, strict=True))


# --- summary -----------------------------------------------------------------------------------

def test_summary_totals_and_breakdowns(client, seeded):
    r = client.get(f"/api/costs/summary?{PERIOD}")
    assert r.status_code == 200, r.json
    body = r.json
    assert (body["startDate"], body["endDate"]) == ("2026-03-01", "2026-03-07")
    assert body["totalCost"] == "0.03075"
    assert body["totalTokens"] == 8150
    assert (body["callCount"], body["failureCount"], body["unpricedCount"]) == (5, 2, 1)
    assert body["byModel"] == {
        "gpt-4o": sums("0.03", 6000, 3, failures=1),
        "gpt-4o-mini": sums("0.00075", 2000, 1),
        "mystery-model": sums("0", 150, 1, failures=1, unpriced=1),
    }
    assert list(body["byModel"]) == ["gpt-4o", "gpt-4o-mini", "mystery-model"]  # cost desc
    assert body["byProvider"] == {"openai": sums("0.03075", 8000, 4, failures=1),
                                  "acme": sums("0", 150, 1, failures=1, unpriced=1)}
    assert body["byAssistant"] == [
        # The latest non-null name wins; the nameless call on the 7th does not erase it.
        sums("0.03", 6000, 3, failures=1, id="a1", name="Helper"),
        sums("0.00075", 2000, 1, id=None, name=None),
        sums("0", 150, 1, failures=1, unpriced=1, id="a2", name="Other"),
    ]
    assert body["byUser"] == [
        sums("0.015", 3000, 1, id="u2"),
        sums("0.00825", 3650, 3, failures=1, unpriced=1, id="u1"),
        sums("0.0075", 1500, 1, failures=1, id="u3"),
    ]
    assert body["other"] == dict.fromkeys(["byModel", "byProvider", "byAssistant", "byUser"], NOTHING_ELSE)


def test_summary_top_entries_and_other_add_up_to_the_totals(client, seeded):
    body = client.get(f"/api/costs/summary?{PERIOD}&top=1").json
    assert body["byModel"] == {"gpt-4o": sums("0.03", 6000, 3, failures=1)}
    assert body["other"]["byModel"] == {"cost": "0.00075", "tokens": 2150, "calls": 2, "failures": 1, "unpriced": 1,
                                        "keys": 2}
    assert body["byUser"] == [sums("0.015", 3000, 1, id="u2")]
    assert body["other"]["byUser"]["keys"] == 2 and body["other"]["byUser"]["calls"] == 4
    for name, entries in (("byModel", list(body["byModel"].values())), ("byUser", body["byUser"]),
                          ("byAssistant", body["byAssistant"]), ("byProvider", list(body["byProvider"].values()))):
        parts = [*entries, body["other"][name]]
        assert sum(Decimal(p["cost"]) for p in parts) == Decimal(body["totalCost"])
        assert sum(p["calls"] for p in parts) == body["callCount"]
        assert sum(p["unpriced"] for p in parts) == body["unpricedCount"]
    assert client.get(f"/api/costs/summary?{PERIOD}&top=0").json["byUser"] == []
    assert client.get(f"/api/costs/summary?{PERIOD}&top=101").status_code == 400


def test_summary_previous_period_and_change(client, seeded):
    body = client.get(f"/api/costs/summary?{PERIOD}").json
    assert body["previousPeriod"] == {"startDate": "2026-02-22", "endDate": "2026-02-28", "totalCost": "0.015",
                                      "totalTokens": 3000, "callCount": 2, "failureCount": 0, "unpricedCount": 0}
    assert body["change"] == {"cost": "0.01575", "costPercent": "105", "tokens": 5150, "calls": 3}


def test_summary_change_percent_is_null_when_previous_period_cost_nothing(client, seeded):
    body = client.get("/api/costs/summary?startDate=2026-02-15&endDate=2026-02-28").json
    assert (body["previousPeriod"]["startDate"], body["previousPeriod"]["totalCost"]) == ("2026-02-01", "0")
    assert body["change"] == {"cost": "0.0225", "costPercent": None, "tokens": 4500, "calls": 3}


def test_summary_change_percent_can_fall_and_is_rounded(client):
    store(client, call("2026-03-01T10:00:00+00:00", inputTokens=3000, outputTokens=0),  # 0.0075
          call("2026-03-02T10:00:00+00:00", inputTokens=1000, outputTokens=0))  # 0.0025
    body = client.get("/api/costs/summary?startDate=2026-03-02&endDate=2026-03-02").json
    assert body["change"] == {"cost": "-0.005", "costPercent": "-66.67", "tokens": -2000, "calls": 0}


def test_summary_for_one_company(client, seeded):
    body = client.get(f"/api/costs/summary?{PERIOD}&companyId=c2").json
    assert (body["totalCost"], body["callCount"]) == ("0.00075", 1)
    assert list(body["byModel"]) == ["gpt-4o-mini"]
    assert body["previousPeriod"]["callCount"] == 0


def test_summary_of_an_empty_period_is_exact_zeros(client):
    body = client.get(f"/api/costs/summary?{PERIOD}").json
    assert (body["totalCost"], body["totalTokens"], body["callCount"], body["unpricedCount"]) == ("0", 0, 0, 0)
    assert (body["byModel"], body["byProvider"], body["byAssistant"], body["byUser"]) == ({}, {}, [], [])


def test_summary_defaults_to_the_last_30_days(client):
    body = client.get("/api/costs/summary").json
    today = datetime.now(UTC).date()
    assert body["endDate"] == today.isoformat()
    assert body["startDate"] == (today - timedelta(days=29)).isoformat()
    assert body["previousPeriod"]["endDate"] == (today - timedelta(days=30)).isoformat()
    only_end = client.get("/api/costs/summary?endDate=2026-03-30").json
    assert (only_end["startDate"], only_end["endDate"]) == ("2026-03-01", "2026-03-30")


# --- daily -------------------------------------------------------------------------------------

def test_daily_is_zero_filled_and_bucketed_by_utc_day(client, seeded):
    r = client.get(f"/api/costs/daily?{PERIOD}")
    assert r.status_code == 200, r.json
    zero = sums("0", 0, 0)
    assert r.json == {"days": [
        {"date": "2026-03-01", **zero},
        {"date": "2026-03-02", **zero},
        {"date": "2026-03-03", **sums("0", 150, 1, failures=1, unpriced=1)},
        {"date": "2026-03-04", **zero},
        {"date": "2026-03-05", **sums("0.0075", 1500, 1)},
        {"date": "2026-03-06", **sums("0.01575", 5000, 2)},
        {"date": "2026-03-07", **sums("0.0075", 1500, 1, failures=1)},
    ]}


def test_daily_does_not_depend_on_the_session_time_zone(session, seeded):
    session.execute(text("SET LOCAL TimeZone = 'America/Los_Angeles'"))
    days = analytics.daily(session, date(2026, 3, 7), date(2026, 3, 8))
    assert [(d.date, d.calls) for d in days] == [(date(2026, 3, 7), 1), (date(2026, 3, 8), 1)]


def test_daily_for_one_company_and_one_day(client, seeded):
    r = client.get("/api/costs/daily?startDate=2026-03-06&endDate=2026-03-06&companyId=c2")
    assert r.json == {"days": [{"date": "2026-03-06", **sums("0.00075", 2000, 1)}]}


def test_daily_defaults_to_30_days(client):
    days = client.get("/api/costs/daily").json["days"]
    assert len(days) == 30 and days[-1]["date"] == datetime.now(UTC).date().isoformat()


# --- call listing ------------------------------------------------------------------------------

def test_list_is_newest_first_with_pagination(client, seeded):
    r = client.get("/api/costs?limit=4")
    assert r.status_code == 200, r.json
    assert r.json["pagination"] == {"page": 1, "limit": 4, "total": 10, "totalPages": 3, "totalExact": True}
    assert [c["id"] for c in r.json["records"]] == [seeded["next_day"], seeded["failed_priced"],
                                                    seeded["mini"], seeded["a1_new"]]
    last = client.get("/api/costs?limit=4&page=3").json
    assert [c["id"] for c in last["records"]] == [seeded["before_prev"], seeded["much_older"]]
    assert last["pagination"] == {"page": 3, "limit": 4, "total": 10, "totalPages": 3, "totalExact": True}
    beyond = client.get("/api/costs?limit=4&page=4").json
    assert beyond["records"] == [] and beyond["pagination"]["total"] == 10


def test_list_default_page_size_and_record_shape(client, seeded):
    body = client.get("/api/costs").json
    assert body["pagination"] == {"page": 1, "limit": 50, "total": 10, "totalPages": 1, "totalExact": True}
    record = next(c for c in body["records"] if c["id"] == seeded["a1_new"])
    assert "duplicate" not in record
    assert record["totalCost"] == "0.015" and record["inputCost"] == "0.005" and record["outputCost"] == "0.01"
    assert record["priced"] is True and record["assistantName"] == "Helper"
    assert record["timestamp"] == "2026-03-06T09:00:00+00:00"
    unpriced = next(c for c in body["records"] if c["id"] == seeded["failed_unpriced"])
    assert unpriced["totalCost"] is None and unpriced["priced"] is False
    assert unpriced["success"] is False and unpriced["error"] == "boom"


def test_list_ties_on_timestamp_are_newest_id_first(client):
    ids = store(client, call("2026-03-05T10:00:00+00:00"), call("2026-03-05T10:00:00+00:00"))
    assert [c["id"] for c in client.get("/api/costs").json["records"]] == sorted(ids, reverse=True)


@pytest.mark.parametrize(("query", "expected"), [
    ("assistantId=a1", ["failed_priced", "a1_new", "a1_old", "much_older"]),
    ("userId=u2", ["a1_new"]),
    ("model=gpt-4o-mini", ["mini"]),
    ("provider=acme", ["failed_unpriced"]),
    ("success=false", ["failed_priced", "failed_unpriced"]),
    ("success=true&startDate=2026-03-06", ["next_day", "mini", "a1_new"]),
    ("companyId=c2", ["mini"]),
    (PERIOD, ["failed_priced", "mini", "a1_new", "a1_old", "failed_unpriced"]),
    ("endDate=2026-02-21", ["before_prev", "much_older"]),
    ("userId=u1&model=gpt-4o&startDate=2026-02-22&endDate=2026-03-08", ["next_day", "a1_old", "prev_last",
                                                                          "prev_first"]),
    ("userId=nobody", []),
])
def test_list_filters(client, seeded, query, expected):
    body = client.get(f"/api/costs?{query}").json
    assert [c["id"] for c in body["records"]] == [seeded[name] for name in expected]
    assert body["pagination"]["total"] == len(expected)


def test_list_respects_the_configured_max_page_size(client, app, seeded):
    assert client.get("/api/costs?limit=1000").status_code == 200
    app.config["LEDGER_SETTINGS"] = replace(app.config["LEDGER_SETTINGS"], max_page_size=5)
    r = client.get("/api/costs?limit=6")
    assert r.status_code == 400 and "limit" in r.json["errors"]["query"]


# --- breakdowns --------------------------------------------------------------------------------

def test_assistant_breakdown(client, seeded):
    r = client.get(f"/api/costs/by-assistant/a1?{PERIOD}")
    assert r.status_code == 200, r.json
    assert r.json == {
        "assistantId": "a1", "name": "Helper", "startDate": "2026-03-01", "endDate": "2026-03-07",
        "totalCost": "0.03", "totalTokens": 6000, "callCount": 3, "failureCount": 1, "unpricedCount": 0,
        "byModel": {"gpt-4o": sums("0.03", 6000, 3, failures=1)},
        "byUser": [sums("0.015", 3000, 1, id="u2"), sums("0.0075", 1500, 1, id="u1"),
                   sums("0.0075", 1500, 1, failures=1, id="u3")],
        "other": {"byModel": NOTHING_ELSE, "byUser": NOTHING_ELSE},
    }


def test_assistant_breakdown_over_all_time_and_empty_range(client, seeded):
    body = client.get("/api/costs/by-assistant/a1").json
    assert (body["startDate"], body["endDate"], body["totalCost"], body["callCount"]) == (None, None, "0.0375", 4)
    empty = client.get("/api/costs/by-assistant/a1?startDate=2025-01-01&endDate=2025-01-31")
    assert empty.status_code == 200  # the assistant exists; it just made no calls then
    assert (empty.json["totalCost"], empty.json["callCount"], empty.json["byUser"]) == ("0", 0, [])


def test_model_breakdown(client, seeded):
    r = client.get(f"/api/costs/by-model/gpt-4o?{PERIOD}")
    assert r.status_code == 200, r.json
    assert r.json == {
        "model": "gpt-4o", "startDate": "2026-03-01", "endDate": "2026-03-07",
        "totalCost": "0.03", "totalTokens": 6000, "callCount": 3, "failureCount": 1, "unpricedCount": 0,
        "byProvider": {"openai": sums("0.03", 6000, 3, failures=1)},
        "byAssistant": [sums("0.03", 6000, 3, failures=1, id="a1", name="Helper")],
        "byUser": [sums("0.015", 3000, 1, id="u2"), sums("0.0075", 1500, 1, id="u1"),
                   sums("0.0075", 1500, 1, failures=1, id="u3")],
        "other": {"byProvider": NOTHING_ELSE, "byAssistant": NOTHING_ELSE, "byUser": NOTHING_ELSE},
    }


def test_model_breakdown_of_an_unpriced_model_and_a_model_name_with_a_slash(client, seeded):
    body = client.get("/api/costs/by-model/mystery-model").json
    assert (body["totalCost"], body["callCount"], body["unpricedCount"], body["failureCount"]) == ("0", 1, 1, 1)
    store(client, call("2026-03-05T10:00:00+00:00", provider="openrouter", model="meta/llama-x"))
    r = client.get("/api/costs/by-model/meta/llama-x")
    assert r.status_code == 200 and r.json["model"] == "meta/llama-x" and r.json["callCount"] == 1


@pytest.mark.parametrize("path", ["/api/costs/by-assistant/nobody", "/api/costs/by-model/no-such-model",
                                  "/api/costs/by-assistant/a2?companyId=c2"])
def test_breakdown_of_something_without_calls_is_404(client, seeded, path):
    r = client.get(path)
    assert r.status_code == 404
    assert r.json["code"] == 404 and "No calls" in r.json["message"]


@pytest.mark.parametrize("by", ["day", "bogus"])
def test_breakdown_by_day_is_a_400_naming_by_like_any_unknown_key(client, seeded, by):
    # Days are GET /api/costs/daily's: breakdown?by=day once summed month rows (their day NULL)
    # and day rows under signs meant for a total, answering a NULL key and negative days.
    r = client.get(f"/api/costs/breakdown?by={by}&startDate=2026-01-05&endDate=2026-03-07")
    assert r.status_code == 400, r.json
    assert set(r.json["errors"]["query"]) == {"by"}
    assert "choose one of user, model, provider, assistant, endpoint" in r.json["errors"]["query"]["by"][0]


# --- seed-compatible routes --------------------------------------------------------------------

def test_user_costs_per_model(client, seeded):
    r = client.get(f"/analytics/cost/user/u1?{PERIOD}")
    assert r.status_code == 200, r.json
    assert r.json == [
        {"model": "gpt-4o", "total_cost": "0.0075", "total_tokens": 1500, "calls": 1, "unpriced_calls": 0},
        {"model": "gpt-4o-mini", "total_cost": "0.00075", "total_tokens": 2000, "calls": 1, "unpriced_calls": 0},
        {"model": "mystery-model", "total_cost": "0", "total_tokens": 150, "calls": 1, "unpriced_calls": 1}]
    assert client.get(f"/analytics/cost/user/nobody?{PERIOD}").json == []


NOW = datetime(2026, 3, 31, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def around_the_window(client):
    """Calls just outside and just inside (now - 30 days, now]."""
    start = NOW - timedelta(days=30)
    store(client,
          call(start.isoformat(), inputTokens=1_000_000, outputTokens=0),  # 2.5, on the boundary: out
          call((start + timedelta(seconds=1)).isoformat(), inputTokens=1000, outputTokens=0),  # 0.0025: in
          call(NOW.isoformat(), inputTokens=0, outputTokens=1000),  # 0.01: in
          call((NOW + timedelta(seconds=1)).isoformat(), inputTokens=0, outputTokens=100_000),  # 1: out
          call(NOW.isoformat(), provider="acme", model="mystery-model"))  # unpriced: in, adds nothing


def test_rolling_total_is_exact_to_the_second(session, around_the_window):
    assert analytics.rolling_total(session, NOW).cost == Decimal("0.0125")
    assert analytics.rolling_total(session, NOW + timedelta(seconds=1)).cost == Decimal("1.01")
    assert analytics.rolling_total(session, NOW - timedelta(seconds=1)).cost == Decimal("2.5025")
    assert analytics.rolling_total(session, NOW, days=1).cost == Decimal("0.01")
    assert (analytics.rolling_total(session, NOW).calls, analytics.rolling_total(session, NOW).unpriced) == (3, 1)
    assert analytics.rolling_total(session, NOW, company_id="c1").cost == Decimal("0.0125")
    assert analytics.rolling_total(session, NOW, company_id="c2").calls == 0


def test_total_route_uses_its_clock(client, monkeypatch, around_the_window):
    monkeypatch.setattr("app.api.analytics.utc_now", lambda: NOW)
    r = client.get("/analytics/cost/total")
    assert r.status_code == 200
    assert r.json == {"total_cost": "0.0125", "calls": 3, "unpriced_calls": 1}
    assert client.get("/analytics/cost/total?companyId=c2").json == {"total_cost": "0", "calls": 0,
                                                                       "unpriced_calls": 0}


def test_total_of_nothing_is_zero(client):
    assert client.get("/analytics/cost/total").json == {"total_cost": "0", "calls": 0, "unpriced_calls": 0}


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "field"), [
    ("/api/costs/summary?startDate=2026-02-30", "startDate"),
    ("/api/costs/summary?startDate=03/01/2026", "startDate"),
    ("/api/costs/summary?endDate=2026-03-01T00:00:00", "endDate"),
    ("/api/costs/summary?startDate=2026-03-08&endDate=2026-03-07", "endDate"),
    ("/api/costs/summary?start=2026-03-01", "start"),
    ("/api/costs/daily?endDate=yesterday", "endDate"),
    ("/api/costs/daily?startDate=2026-03-08&endDate=2026-03-07", "endDate"),
    ("/api/costs/daily?days=7", "days"),
    ("/api/costs?page=0", "page"),
    ("/api/costs?page=x", "page"),
    ("/api/costs?limit=0", "limit"),
    ("/api/costs?limit=1001", "limit"),
    ("/api/costs?success=maybe", "success"),
    ("/api/costs?success=True", "success"),
    ("/api/costs?success=1", "success"),
    ("/api/costs?sort=cost", "sort"),
    ("/api/costs?startDate=2026-03-08&endDate=2026-03-07", "endDate"),
    ("/api/costs/by-assistant/a1?startDate=nope", "startDate"),
    ("/api/costs/by-model/gpt-4o?startDate=2026-03-08&endDate=2026-03-07", "endDate"),
    ("/api/costs/by-model/gpt-4o?userId=u1", "userId"),
    ("/analytics/cost/user/u1?startDate=2026-03-08&endDate=2026-03-07", "endDate"),
    ("/analytics/cost/user/u1?endDate=2026-13-01", "endDate"),
])
def test_bad_query_is_400_naming_the_field(client, seeded, path, field):
    r = client.get(path)
    assert r.status_code == 400, r.json
    assert field in r.json["errors"]["query"], r.json


def test_every_bad_field_is_named_at_once(client):
    r = client.get("/api/costs?page=0&limit=5000&success=maybe&bogus=1")
    assert r.status_code == 400
    assert set(r.json["errors"]["query"]) == {"page", "limit", "success", "bogus"}


def test_summary_route_is_not_captured_by_other_routes(client, app):
    rules = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/costs")}
    assert rules["/api/costs/summary"] == "analytics.cost_summary"
    assert client.get("/api/costs/summary").status_code == 200
    assert client.get("/api/costs/daily").status_code == 200


def test_openapi_documents_money_as_decimal_strings(client):
    spec = client.get("/openapi.json").json
    summary = spec["components"]["schemas"]["Summary"]["properties"]
    assert summary["totalCost"]["type"] == "string" and summary["totalCost"]["format"] == "decimal"
    params = {p["name"] for p in spec["paths"]["/api/costs"]["get"]["parameters"]}
    assert {"page", "limit", "assistantId", "userId", "model", "provider", "success", "companyId",
            "startDate", "endDate"} <= params
