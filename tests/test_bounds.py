"""The bounds of app.bounds, enforced where input arrives: a clear 400 (or usage error) naming
the field and the bound, never an overflow, a runaway answer or a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.bounds import MAX_DAYS, MAX_OFFSET
from app.models import LlmCall

CALL = {"provider": "openai", "model": "gpt-4o", "inputTokens": 10, "outputTokens": 5, "companyId": "acme"}


@pytest.mark.parametrize("url", [
    "/api/costs/summary?startDate=0001-01-01&endDate=0001-01-02",
    "/api/costs/summary?startDate=9999-12-30&endDate=9999-12-31",
    "/api/costs/summary?endDate=0001-01-05",
    "/api/costs/daily?startDate=0356-01-09&endDate=5036-08-12",
    "/api/costs?endDate=9999-12-31",
    "/api/costs?startDate=1999-12-31",
    "/api/costs/breakdown?by=user&startDate=0001-01-01",
    "/api/costs/by-assistant/a?endDate=2200-01-01",
    "/api/costs/by-model/gpt-4o?startDate=1000-01-01",
    "/analytics/cost/user/u?startDate=0001-01-01",
])
def test_a_date_outside_the_ledgers_years_is_a_400_naming_it(client, url):
    r = client.get(url)
    assert r.status_code == 400, (url, r.status_code)
    errors = r.json["errors"]["query"]
    assert errors and set(errors) <= {"startDate", "endDate"}
    assert all("2000-01-01" in message and "2199-12-31" in message for [message] in errors.values())


def test_the_first_and_last_days_of_the_ledgers_years_are_accepted(client):
    assert client.get("/api/costs/summary?startDate=2000-01-01&endDate=2199-12-31").status_code == 200
    assert client.get("/api/costs?startDate=2000-01-01&endDate=2199-12-31").status_code == 200
    # The default start (endDate − 29 days) never falls before the first day.
    assert client.get("/api/costs/summary?endDate=2000-01-05").status_code == 200


def test_a_day_by_day_answer_spans_at_most_max_days(client):
    ok = client.get("/api/costs/daily?startDate=2020-01-01&endDate=2020-01-01")
    assert ok.status_code == 200
    last_ok = client.get(f"/api/costs/daily?startDate=2020-01-01&endDate={_plus('2020-01-01', MAX_DAYS - 1)}")
    assert last_ok.status_code == 200 and len(last_ok.json["days"]) == MAX_DAYS
    r = client.get(f"/api/costs/daily?startDate=2020-01-01&endDate={_plus('2020-01-01', MAX_DAYS)}")
    assert r.status_code == 400 and "at most" in r.json["errors"]["query"]["startDate"][0]


def _plus(day: str, days: int) -> str:
    from datetime import date, timedelta
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


@pytest.mark.parametrize("url", ["/api/costs?page={page}&limit={limit}",
                                 "/api/costs/breakdown?by=user&page={page}&limit={limit}"])
def test_a_page_deeper_than_the_bound_is_a_400(client, url):
    assert client.get(url.format(page=MAX_OFFSET // 50 + 1, limit=50)).status_code == 200
    for page in (MAX_OFFSET // 50 + 2, 10**18, 10**30):
        r = client.get(url.format(page=page, limit=50))
        assert r.status_code == 400, (page, r.status_code)
        assert "page" in r.json["errors"]["query"]


def test_overlong_filters_are_a_400(client):
    r = client.get("/api/costs", query_string={"userId": "u" * 201})
    assert r.status_code == 400 and "userId" in r.json["errors"]["query"]


@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00",
                                       "1999-12-31T23:59:59+00:00", "2200-01-01T00:00:00+00:00"])
def test_a_call_outside_the_ledgers_years_is_refused_and_nothing_stored(client, session, timestamp):
    for path, body in (("/api/calls", CALL | {"timestamp": timestamp}),
                       ("/api/calls/batch", {"calls": [CALL, CALL | {"timestamp": timestamp}]})):
        r = client.post(path, json=body)
        assert r.status_code == 400, (path, r.json)
        assert "2000-01-01" in str(r.json["errors"]["json"])
    assert session.scalar(select(func.count()).select_from(LlmCall)) == 0


def test_an_override_valid_from_outside_the_years_is_a_400(client):
    r = client.post("/api/prices/overrides", json={"provider": "openai", "model": "gpt-4o",
                                                   "validFrom": "0001-01-01T00:00:00+05:00",
                                                   "inputPerMtok": "1", "outputPerMtok": "2"})
    assert r.status_code == 400 and "validFrom" in r.json["errors"]["json"]


def test_the_cli_refuses_dates_outside_the_years(runner):
    result = runner.invoke(args=["costs", "report", "--since", "0001-01-01"])
    assert result.exit_code == 2 and "2000-01-01" in result.output
    result = runner.invoke(args=["costs", "report", "--by", "day", "--since", "2000-01-01", "--until", "2199-12-31"])
    assert result.exit_code == 2 and "at most" in result.output
