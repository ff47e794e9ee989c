"""Insight routes (/api/insight/*), services and `flask costs insight`, through the real app and database.

Calls are stored through the real ingest endpoint, priced by the catalog: gpt-4o costs $10 per
million output tokens, so a call of 100,000 output tokens (and no input) costs exactly $1.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app import insight


def spend(timestamp: str, dollars: str | int, *, company: str = "c1", user: str = "u1", assistant: str = "a1",
          model: str = "gpt-4o", endpoint: str = "/chat") -> dict:
    """A gpt-4o call costing exactly `dollars` (output tokens only; claude-sonnet-4-5: $15 per million)."""
    per_million = {"gpt-4o": 10, "claude-sonnet-4-5": 15}[model]
    tokens = Decimal(dollars) * 1_000_000 / per_million
    assert tokens == int(tokens)
    return {"provider": "anthropic" if model.startswith("claude") else "openai", "model": model, "inputTokens": 0,
            "outputTokens": int(tokens), "companyId": company, "userId": user, "assistantId": assistant,
            "endpoint": endpoint, "timestamp": timestamp}


def store(client, calls: list[dict]) -> None:
    for first in range(0, len(calls), 1000):
        r = client.post("/api/calls/batch", json={"calls": calls[first:first + 1000]})
        assert r.status_code == 200, r.json


def get(client, url: str) -> dict:
    r = client.get(url)
    assert r.status_code == 200, r.json
    return r.json


def change(cost: str, percent: str | None, tokens: int, calls: int) -> dict:
    return {"cost": cost, "costPercent": percent, "tokens": tokens, "calls": calls}


# --- trends ------------------------------------------------------------------------------------

@pytest.fixture
def weeks(client):
    store(client, [
        spend("2026-01-20T10:00:00+00:00", 5),
        spend("2026-02-25T10:00:00+00:00", 1),  # the week before (Wednesday)
        spend("2026-03-02T00:00:00+00:00", 2),  # Monday
        spend("2026-03-08T23:59:59+00:00", 1),  # Sunday, same ISO week
        spend("2026-03-09T00:00:00+00:00", 4),  # next Monday
        spend("2026-03-03T10:00:00+00:00", 100, company="c2"),  # another company
    ])


def test_trends_by_iso_week_are_whole_weeks_with_the_change_from_the_week_before(client, weeks):
    body = get(client, "/api/insight/trends?companyId=c1&startDate=2026-03-04&endDate=2026-03-12&grain=week")
    assert (body["grain"], body["startDate"], body["endDate"]) == ("week", "2026-03-02", "2026-03-15")
    assert body["buckets"] == [
        {"startDate": "2026-03-02", "endDate": "2026-03-08", "cost": "3", "tokens": 300_000, "calls": 2,
         "failures": 0, "unpriced": 0, "change": change("2", "200", 200_000, 1)},
        {"startDate": "2026-03-09", "endDate": "2026-03-15", "cost": "4", "tokens": 400_000, "calls": 1,
         "failures": 0, "unpriced": 0, "change": change("1", "33.33", 100_000, -1)},
    ]
    assert body["totals"] == {"cost": "7", "tokens": 700_000, "calls": 3, "failures": 0, "unpriced": 0}


def test_trends_by_day_are_zero_filled(client, weeks):
    body = get(client, "/api/insight/trends?companyId=c1&startDate=2026-03-01&endDate=2026-03-03")
    assert [(b["startDate"], b["cost"], b["calls"], b["change"]) for b in body["buckets"]] == [
        ("2026-03-01", "0", 0, change("0", None, 0, 0)),
        ("2026-03-02", "2", 1, change("2", None, 200_000, 1)),
        ("2026-03-03", "0", 0, change("-2", "-100", -200_000, -1)),
    ]


def test_trends_by_month(client, weeks):
    body = get(client, "/api/insight/trends?companyId=c1&startDate=2026-02-10&endDate=2026-03-05&grain=month")
    assert (body["startDate"], body["endDate"]) == ("2026-02-01", "2026-03-31")
    assert [(b["startDate"], b["endDate"], b["cost"], b["change"]["cost"], b["change"]["costPercent"])
            for b in body["buckets"]] == [("2026-02-01", "2026-02-28", "1", "-4", "-80"),
                                          ("2026-03-01", "2026-03-31", "7", "6", "600")]


# --- top spenders ------------------------------------------------------------------------------

@pytest.fixture
def spenders(client):
    store(client, [
        # The period, 2026-03-08 .. 03-14: u1 $5, u2 $3, u3 $2 (new).
        spend("2026-03-08T00:00:00+00:00", 2, user="u1", assistant="a1"),
        spend("2026-03-14T23:00:00+00:00", 3, user="u1", assistant="a2", model="claude-sonnet-4-5"),
        spend("2026-03-10T09:00:00+00:00", 3, user="u2", assistant="a2"),
        spend("2026-03-11T09:00:00+00:00", 2, user="u3", assistant="a2", endpoint="/new"),
        # The previous period, 03-01 .. 03-07: u1 $4, u2 $6.
        spend("2026-03-01T00:00:00+00:00", 4, user="u1"),
        spend("2026-03-07T23:59:59+00:00", 6, user="u2", assistant="a2"),
        # Outside both, and another company.
        spend("2026-02-28T23:00:00+00:00", 50, user="u3"),
        spend("2026-03-09T00:00:00+00:00", 70, company="c2", user="u3"),
    ])


def test_top_users_with_share_and_change_from_the_previous_period(client, spenders):
    body = get(client, "/api/insight/top?by=user&companyId=c1&startDate=2026-03-08&endDate=2026-03-14&top=2")
    assert (body["previousStartDate"], body["previousEndDate"]) == ("2026-03-01", "2026-03-07")
    assert body["keys"] == 3
    assert [(e["key"], e["cost"], e["share"], e["previousCost"], e["change"]["cost"], e["change"]["costPercent"],
             e["new"]) for e in body["entries"]] == [("u1", "5", "50", "4", "1", "25", False),
                                                     ("u2", "3", "30", "6", "-3", "-50", False)]
    assert (body["totals"]["cost"], body["previousTotals"]["cost"], body["change"]["costPercent"]) == ("10", "10", "0")


def test_top_marks_new_entrants_and_names_assistants(client, spenders):
    users = get(client, "/api/insight/top?by=user&companyId=c1&startDate=2026-03-08&endDate=2026-03-14")["entries"]
    assert users[2] | {"tokens": None} == {
        "key": "u3", "name": None, "cost": "2", "tokens": None, "calls": 1, "failures": 0, "unpriced": 0,
        "share": "20", "previousCost": "0", "previousCalls": 0, "change": change("2", None, 200_000, 1), "new": True}
    models = get(client, "/api/insight/top?by=model&companyId=c1&startDate=2026-03-08&endDate=2026-03-14")["entries"]
    assert [(e["key"], e["cost"], e["previousCost"], e["new"]) for e in models] == [
        ("gpt-4o", "7", "10", False), ("claude-sonnet-4-5", "3", "0", True)]
    endpoints = get(client, "/api/insight/top?by=endpoint&companyId=c1&startDate=2026-03-08&endDate=2026-03-14")
    assert [(e["key"], e["share"]) for e in endpoints["entries"]] == [("/chat", "80"), ("/new", "20")]


# --- peaks -------------------------------------------------------------------------------------

@pytest.fixture
def dst_week(client):
    """The week Europe/Berlin moves from CET (+01:00) to CEST (+02:00): Sunday 2026-03-29 at 02:00."""
    store(client, [
        spend("2026-03-22T23:30:00+00:00", 1),  # Monday 00:30 CET: the first local day
        spend("2026-03-23T08:15:00+00:00", 2),  # Monday 09:15 CET
        spend("2026-03-28T23:30:00+00:00", 3),  # Sunday 00:30 CET
        spend("2026-03-29T00:30:00+00:00", 4),  # Sunday 01:30 CET
        spend("2026-03-29T01:30:00+00:00", 5),  # Sunday 03:30 CEST: 02:xx never happened
        spend("2026-03-29T22:30:00+00:00", 6),  # Monday 00:30 CEST: the day after the range
        spend("2026-03-29T01:30:00+00:00", 70, company="c2"),
    ])


def cell(body: dict, weekday: str, hour: int) -> tuple[str, int, int]:
    [day] = [d for d in body["weekdays"] if d["weekday"] == weekday]
    found = day["hours"][hour]
    assert found["hour"] == hour
    return found["cost"], found["calls"], found["hours"]


def test_peaks_place_each_hour_at_its_local_weekday_and_hour_across_dst(client, dst_week):
    body = get(client, "/api/insight/peaks?companyId=c1&startDate=2026-03-23&endDate=2026-03-29"
                       "&timezone=Europe/Berlin")
    assert [d["weekday"] for d in body["weekdays"]] == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                                        "Saturday", "Sunday"]
    assert (cell(body, "Monday", 0), cell(body, "Monday", 9)) == (("1", 1, 1), ("2", 1, 1))
    assert [cell(body, "Sunday", h) for h in range(5)] == [("3", 1, 1), ("4", 1, 1), ("0", 0, 0), ("5", 1, 1),
                                                           ("0", 0, 1)]
    assert sum(h["hours"] for d in body["weekdays"] for h in d["hours"]) == 7 * 24 - 1
    assert (body["cost"], body["calls"], body["busiest"]) == ("15", 5, {"weekday": "Sunday", "hour": 3})


def test_peaks_in_the_week_dst_ends_count_the_repeated_hour_twice(client):
    store(client, [spend("2026-10-25T00:10:00+00:00", 1),  # Sunday 02:10 CEST
                   spend("2026-10-25T01:10:00+00:00", 2)])  # Sunday 02:10 CET, again
    body = get(client, "/api/insight/peaks?companyId=c1&startDate=2026-10-19&endDate=2026-10-25"
                       "&timezone=Europe/Berlin")
    assert cell(body, "Sunday", 2) == ("3", 2, 2)
    assert sum(h["hours"] for d in body["weekdays"] for h in d["hours"]) == 7 * 24 + 1


def test_peaks_in_a_half_hour_zone_place_an_hour_where_its_start_falls(client):
    store(client, [spend("2026-03-24T10:20:00+00:00", 1)])  # 15:50 in Kolkata; its hour starts at 15:30
    body = get(client, "/api/insight/peaks?companyId=c1&startDate=2026-03-23&endDate=2026-03-29"
                       "&timezone=Asia/Kolkata")
    assert cell(body, "Tuesday", 15) == ("1", 1, 1)
    assert sum(h["hours"] for d in body["weekdays"] for h in d["hours"]) == 7 * 24


def test_peaks_default_to_utc(client, dst_week):
    body = get(client, "/api/insight/peaks?companyId=c1&startDate=2026-03-23&endDate=2026-03-29")
    assert body["timezone"] == "UTC"
    assert (cell(body, "Sunday", 0), cell(body, "Sunday", 1), cell(body, "Saturday", 23)) == (
        ("4", 1, 1), ("5", 1, 1), ("3", 1, 1))
    assert body["cost"] == "20"  # Sunday 22:30 UTC is inside, Sunday 23:30 UTC before Monday is not


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd", "x" * 100])
def test_peaks_refuse_an_unknown_time_zone_naming_timezone(client, zone):
    r = client.get(f"/api/insight/peaks?timezone={zone}")
    assert r.status_code == 400 and "timezone" in r.json["errors"]["query"], r.json


# --- forecast ----------------------------------------------------------------------------------

def steady(first: date, last: date, weekday: int = 10, weekend: int = 2, **who) -> list[dict]:
    """A call a day at noon: $10 on weekdays, $2 at weekends."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [spend(f"{day}T12:00:00+00:00", weekday if day.weekday() < 5 else weekend, **who) for day in days]


@pytest.fixture
def steady_series(client):
    """$10 a weekday and $2 a weekend day by u1 on gpt-4o, and $3 every day by u2 on claude-sonnet-4-5."""
    store(client, steady(date(2026, 1, 1), date(2026, 3, 31)) + steady(date(2026, 1, 1), date(2026, 3, 31), 3, 3,
                                                                       user="u2", model="claude-sonnet-4-5"))


def test_forecast_of_a_steady_series_is_exact(session, steady_series):
    # March 2026 starts on a Sunday. By the 11th, 00:00: 7 weekdays and 3 weekend days spent, 3 whole weeks to come.
    found = insight.forecast(session, date(2026, 3, 1), datetime(2026, 3, 11, tzinfo=UTC), "c1")
    assert found.spent == 7 * 13 + 3 * 5
    assert found.forecast == found.low == found.high == 106 + 3 * (5 * 13 + 2 * 5)
    assert found.daily_rates == (13, 13, 13, 13, 13, 5, 5)
    assert found.history_days == 56


def test_forecast_counts_today_to_the_minute_and_the_rest_of_today_by_the_clock(session, steady_series):
    # 18:00: today's noon calls are spent ($13), a quarter of the day is still to come.
    found = insight.forecast(session, date(2026, 3, 1), datetime(2026, 3, 11, 18, tzinfo=UTC), "c1")
    assert found.spent == 106 + 13
    assert found.forecast == 119 + Decimal("3.25") + 3 * 75 - 13


def test_forecast_narrowed_to_a_user_or_model(session, steady_series):
    user = insight.forecast(session, date(2026, 3, 1), datetime(2026, 3, 11, 18, tzinfo=UTC), "c1",
                            filter=("userId", "u2"))
    assert (user.spent, user.forecast) == (33, 33 + Decimal("0.75") + 21 * 3 - 3)
    model = insight.forecast(session, date(2026, 3, 1), datetime(2026, 3, 11, 18, tzinfo=UTC), "c1",
                             filter=("model", "gpt-4o"))
    assert (model.spent, model.forecast) == (86, 86 + Decimal("2.5") + 3 * 54 - 10)


def test_forecast_follows_growth_and_resists_one_odd_day(session, client):
    # Eight weeks at $10 a day, then two at $20, one of which had a $500 runaway loop.
    calls = steady(date(2026, 1, 5), date(2026, 3, 1), 10, 10) + steady(date(2026, 3, 2), date(2026, 3, 15), 20, 20)
    store(client, calls + [spend("2026-03-10T13:00:00+00:00", 500)])
    found = insight.forecast(session, date(2026, 3, 1), datetime(2026, 3, 16, tzinfo=UTC), "c1")
    # Weekday medians are still $10 (6 of 8 weeks), the last 14 days run at twice that: $20 a day ahead.
    assert found.daily_rates == (20,) * 7
    assert found.spent == 10 + 14 * 20 + 500
    assert found.forecast == found.spent + 16 * 20


def test_forecast_endpoint_for_a_finished_month_is_what_it_cost(client, steady_series):
    body = get(client, "/api/insight/forecast?companyId=c1&month=2026-02")
    assert (body["month"], body["spent"], body["forecast"], body["low"], body["high"]) == (
        "2026-02", "300", "300", "300", "300")  # 20 weekdays × $13 + 8 weekend days × $5
    assert body["now"] == "2026-03-01T00:00:00+00:00" and body["filter"] is None
    assert get(client, "/api/insight/forecast?companyId=c1&month=2026-02&userId=u2")["spent"] == "84"


# --- anomalies ---------------------------------------------------------------------------------

@pytest.fixture
def odd_days(client):
    """Noon calls from 2026-01-05 (a Monday): $10 in even weeks, $11 in odd ones (u1, a1, gpt-4o);
    on 03-04 a $45 claude-sonnet-4-5 call by u9 through a9, and nothing at all on 03-06."""
    calls = []
    for n in range((date(2026, 3, 8) - date(2026, 1, 5)).days + 1):
        day = date(2026, 1, 5) + timedelta(days=n)
        if day != date(2026, 3, 6):
            calls.append(spend(f"{day}T12:00:00+00:00", 10 if (n // 7) % 2 == 0 else 11))
    calls.append(spend("2026-03-04T12:30:00+00:00", 45, user="u9", assistant="a9", model="claude-sonnet-4-5"))
    calls.append(spend("2026-03-04T12:00:00+00:00", 900, company="c2", user="u8", assistant="a8"))
    store(client, calls)


def test_anomalies_by_day_are_flagged_against_the_same_weekday_and_explained(client, odd_days):
    body = get(client, "/api/insight/anomalies?companyId=c1&startDate=2026-03-02&endDate=2026-03-08")
    assert (body["grain"], body["k"], body["minDeparture"], body["baselineWeeks"], body["checked"]) == (
        "day", "3.5", "1", 8, 7)
    spike, drop = body["anomalies"]
    assert spike == {
        "bucket": "2026-03-04", "actual": "55", "expected": "10.5", "mad": "0.5", "score": "60.03", "direction": "up",
        "model": {"key": "claude-sonnet-4-5", "actual": "45", "expected": "0", "departure": "45"},
        "user": {"key": "u9", "actual": "45", "expected": "0", "departure": "45"},
        "assistant": {"key": "a9", "actual": "45", "expected": "0", "departure": "45"}}
    assert drop == {
        "bucket": "2026-03-06", "actual": "0", "expected": "10.5", "mad": "0.5", "score": "-14.16",
        "direction": "down",
        "model": {"key": "gpt-4o", "actual": "0", "expected": "10.5", "departure": "-10.5"},
        "user": {"key": "u1", "actual": "0", "expected": "10.5", "departure": "-10.5"},
        "assistant": {"key": "a1", "actual": "0", "expected": "10.5", "departure": "-10.5"}}


def test_anomalies_by_hour_read_the_flagged_hour_raw(client, odd_days):
    body = get(client, "/api/insight/anomalies?companyId=c1&startDate=2026-03-04&endDate=2026-03-04&grain=hour")
    assert body["checked"] == 24
    [spike] = body["anomalies"]
    assert (spike["bucket"], spike["actual"], spike["expected"], spike["direction"]) == (
        "2026-03-04T12:00:00+00:00", "55", "10.5", "up")
    assert (spike["model"]["key"], spike["user"]["key"], spike["assistant"]["key"]) == ("claude-sonnet-4-5", "u9", "a9")


def test_anomalies_do_not_judge_a_bucket_still_under_way(session, odd_days):
    # At 09:00 on 03-06 the day has no calls yet: not a drop, just early. It is not judged at all.
    early = insight.anomalies(session, date(2026, 3, 2), date(2026, 3, 8), company_id="c1",
                              now=datetime(2026, 3, 6, 9, tzinfo=UTC))
    assert early.checked == 4 and [a.bucket for a in early.anomalies] == [date(2026, 3, 4)]
    # Hours: at 12:30 the noon hour is under way (its $45 spike is not judged yet); at 13:00 it has ended.
    during = insight.anomalies(session, date(2026, 3, 4), date(2026, 3, 4), "hour", "c1",
                               now=datetime(2026, 3, 4, 12, 30, tzinfo=UTC))
    assert during.checked == 12 and during.anomalies == []
    after = insight.anomalies(session, date(2026, 3, 4), date(2026, 3, 4), "hour", "c1",
                              now=datetime(2026, 3, 4, 13, tzinfo=UTC))
    assert after.checked == 13 and len(after.anomalies) == 1


def test_anomalies_threshold_and_minimum_departure_are_parameters(client, odd_days):
    base = "/api/insight/anomalies?companyId=c1&startDate=2026-03-02&endDate=2026-03-08"
    assert len(get(client, base + "&minDeparture=20")["anomalies"]) == 1  # the drop of $10.50 is too small
    assert len(get(client, base + "&k=100")["anomalies"]) == 0  # 100 × 1.4826 × 0.5 = 74.13
    # Without 8 weeks before it, a day is judged on 4 to 7 weeks; with fewer, not at all.
    assert get(client, "/api/insight/anomalies?companyId=c1&startDate=2026-01-26&endDate=2026-02-08")["checked"] == 7


# --- tenants -----------------------------------------------------------------------------------

READS = ["/api/insight/trends?startDate=2026-03-01&endDate=2026-03-10",
         "/api/insight/top?by=user&startDate=2026-03-01&endDate=2026-03-10",
         "/api/insight/top?by=model&startDate=2026-03-01&endDate=2026-03-10",
         "/api/insight/peaks?startDate=2026-03-01&endDate=2026-03-10&timezone=Europe/Berlin",
         "/api/insight/forecast?month=2026-03",
         "/api/insight/anomalies?startDate=2026-03-01&endDate=2026-03-10"]


@pytest.mark.parametrize("url", READS)
def test_a_company_key_sees_nothing_of_another_companys_spend(client, make_client, odd_days, url):
    store(client, [spend("2026-03-05T10:00:00+00:00", 3, company="c2", user="u7", assistant="a7")])
    c2 = make_client("c2", "read")
    mine = get(c2, url)
    assert mine == get(client, url + "&companyId=c2")
    assert mine != get(client, url + "&companyId=c1")
    text = json.dumps(mine)
    assert "u1" not in text and "a1" not in text and "\"55\"" not in text
    r = c2.get(url + "&companyId=c1")
    assert r.status_code == 403 and "bound to company 'c2'" in r.json["message"]


def test_insight_needs_the_read_scope(make_client):
    r = make_client("c1", "ingest").get("/api/insight/trends")
    assert r.status_code == 403 and "'read'" in r.json["message"]


# --- CLI ---------------------------------------------------------------------------------------

def invoke(runner, *args: str) -> str:
    result = runner.invoke(args=["costs", "insight", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_trends_as_a_table(runner, weeks):
    lines = invoke(runner, "trends", "--since", "2026-03-04", "--until", "2026-03-12", "--grain", "week",
                   "--company", "c1").splitlines()
    assert lines[0].split() == ["week", "through", "cost", "tokens", "calls", "change", "change", "%"]
    assert [line.split() for line in lines[2:]] == [["2026-03-02", "2026-03-08", "3", "300000", "2", "2", "200%"],
                                                    ["2026-03-09", "2026-03-15", "4", "400000", "1", "1", "33.33%"]]


def test_cli_top_as_a_table(runner, spenders):
    lines = invoke(runner, "top", "--by", "user", "--since", "2026-03-08", "--until", "2026-03-14", "--company", "c1",
                   "--top", "1").splitlines()
    assert lines[2].split() == ["u1", "5", "50%", "4", "1", "25%"]
    assert lines[3].split() == ["TOTAL", "10", "10", "0", "0%", "3", "keys"] and lines[-1] == "previous period: 2026-03-01 .. 2026-03-07"


def test_cli_json_is_the_apis_answer(runner, client, dst_week):
    cli = json.loads(invoke(runner, "peaks", "--since", "2026-03-23", "--until", "2026-03-29", "--timezone",
                            "Europe/Berlin", "--company", "c1", "--format", "json"))
    assert cli == get(client, "/api/insight/peaks?companyId=c1&startDate=2026-03-23&endDate=2026-03-29"
                              "&timezone=Europe/Berlin")
    bad = runner.invoke(args=["costs", "insight", "peaks", "--timezone", "Mars/Olympus"])
    assert bad.exit_code == 2 and "--timezone" in bad.output


def test_cli_forecast_and_anomalies(runner, odd_days):
    out = json.loads(invoke(runner, "forecast", "--month", "2026-02", "--company", "c1", "--format", "json"))
    assert (out["spent"], out["forecast"]) == ("294", "294")  # 1 + 7 + 6 days at $11, 14 at $10
    lines = invoke(runner, "anomalies", "--since", "2026-03-02", "--until", "2026-03-08", "--company", "c1")
    assert "2026-03-04" in lines and "claude-sonnet-4-5 (+45)" in lines and "u9 (+45)" in lines
    assert "gpt-4o (-10.5)" in lines and lines.splitlines()[-1].startswith("2 of 7 days anomalous")
    csv_out = invoke(runner, "anomalies", "--since", "2026-03-04", "--until", "2026-03-04", "--grain", "hour",
                     "--company", "c1", "--format", "csv").splitlines()
    assert csv_out[1].startswith("2026-03-04T12:00:00+00:00,55,10.5,")
    assert runner.invoke(args=["costs", "insight", "forecast", "--month", "2026-3x"]).exit_code == 2
    assert runner.invoke(args=["costs", "insight", "forecast", "--user", "u1", "--model", "m"]).exit_code == 2


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("route, query, field", [
    ("trends", "grain=year", "grain"),
    ("trends", "startDate=2026-03-05&endDate=2026-03-01", "endDate"),
    ("trends", "startDate=2000-01-01&endDate=2026-03-01", "startDate"),
    ("trends", "startDate=yesterday", "startDate"),
    ("trends", "granularity=day", "granularity"),
    ("top", "by=provider", "by"),
    ("top", "", "by"),
    ("top", "by=user&top=0", "top"),
    ("top", "by=user&top=101", "top"),
    ("forecast", "month=2026-13", "month"),
    ("forecast", "month=2026-3", "month"),
    ("forecast", "month=1999-12", "month"),
    ("forecast", "userId=u1&model=gpt-4o", "model"),
    ("forecast", "user=u1", "user"),
    ("anomalies", "grain=week", "grain"),
    ("anomalies", "k=0", "k"),
    ("anomalies", "k=nan", "k"),
    ("anomalies", "minDeparture=-1", "minDeparture"),
    ("anomalies", "grain=hour&startDate=2026-01-01&endDate=2026-02-01", "startDate"),
])
def test_bad_input_is_a_400_naming_the_field(client, route, query, field):
    r = client.get(f"/api/insight/{route}?{query}")
    assert r.status_code == 400 and field in r.json["errors"]["query"], r.json


def test_the_openapi_document_describes_every_insight_route(client):
    spec = client.get("/openapi.json").json
    for route in ("trends", "top", "peaks", "forecast", "anomalies"):
        operation = spec["paths"][f"/api/insight/{route}"]["get"]
        assert {"200", "400"} <= set(operation["responses"]), route
    assert spec["components"]["schemas"]["Forecast"]["properties"]["forecast"]["type"] == "string"
