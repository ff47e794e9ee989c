"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against a real gunicorn
serving the migrated test database with committed calls of two companies of this module's own.

Each page is checked against the API asked directly for the same period with the same key: every
chart and list shows the API's numbers (exact strings), drill-down links and filters lead to the
records behind them, a company key sees its company only, a bad key is refused, and no request
goes to any other host.
"""

from __future__ import annotations

import json
import random
import re
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.auth.keys import create_key
from app.models import ApiKey
from bench.server import gunicorn
from tests.browser import chromium
from tests.committed import delete_company, partitions_restored

A, B = "dash-test-a", "dash-test-b"
MODELS = [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"), ("openai", "gpt-4o-mini"), ("google", "gemini-2.5-flash")]
USERS = ["ana@a.example", "bo@a.example", "cy@a.example", "di@a.example"]
TODAY = datetime.now(UTC).date()
SPIKE = TODAY - timedelta(days=5)  # a day of twenty times the usual spend: an anomaly
DAYS = 70


def _calls() -> list[dict]:
    """70 days of company A (four models, four users, two assistants, a failure in five, a spike),
    and a little of company B (its own user)."""
    rng = random.Random(13)
    calls = []
    for offset in range(DAYS):
        day = TODAY - timedelta(days=offset)
        for n in range(60 if day == SPIKE else 6):
            provider, model = MODELS[n % len(MODELS)]
            moment = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=8 + n % 10, minutes=rng.randrange(60))
            moment = min(moment, datetime.now(UTC) - timedelta(minutes=1))
            calls.append({"provider": provider, "model": model, "companyId": A, "userId": USERS[(n + offset) % 4],
                          "assistantId": "a-helper" if n % 3 else "a-coder",
                          "assistantName": "Helper" if n % 3 else "Coder", "endpoint": "/chat",
                          "inputTokens": rng.randrange(200, 4000) * (10 if day == SPIKE else 1),
                          "outputTokens": rng.randrange(50, 900),
                          "success": n % 5 != 3, "durationMs": rng.randrange(80, 9000),
                          "timestamp": moment.isoformat(), "requestId": f"dash-a-{offset}-{n}"})
        calls.append({"provider": "openai", "model": "gpt-4o", "companyId": B, "userId": "zed@b.example",
                      "assistantId": "b-bot", "inputTokens": 1000, "outputTokens": 100,
                      "timestamp": datetime.combine(day, datetime.min.time(), UTC).replace(hour=3).isoformat(),
                      "requestId": f"dash-b-{offset}"})
    return calls


class Api:
    """The REST API asked directly, with a key."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key

    def request(self, method: str, path: str, params: dict | None = None, body: dict | None = None) -> dict:
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None,
                                         headers={"Authorization": f"Bearer {self.key}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def get(self, path: str, **params) -> dict:
        return self.request("GET", path, {k: v for k, v in params.items() if v is not None})


@pytest.fixture(scope="module")
def service(database_url, engine, tmp_path_factory):
    """A gunicorn over the test database holding this module's calls, budget and alert; keys of
    each company and of the platform."""
    keys = {}
    with Session(engine) as session:
        for name, company, scopes in (("platform", None, "ingest,read,admin"), ("a", A, "read"), ("b", B, "read"),
                                      ("ingest only", A, "ingest")):
            keys[name] = create_key(session, name=f"dashboard test {name}", company_id=company, scopes=scopes).secret
        session.commit()
    try:
        with partitions_restored(engine):
            try:
                log = tmp_path_factory.mktemp("dashboard") / "gunicorn.log"
                with gunicorn(database_url, workers=2, log_path=log, env={"ALERT_DELIVERY": "off"}) as (host, port, _):
                    base = f"http://{host}:{port}"
                    platform = Api(base, keys["platform"])
                    # A small monthly budget for A: its first thresholds are crossed by this month's calls.
                    platform.request("POST", "/api/budgets", body={"companyId": A, "limit": "0.05", "period": "month"})
                    calls = _calls()
                    for first in range(0, len(calls), 500):
                        platform.request("POST", "/api/calls/batch", body={"calls": calls[first:first + 500]})
                    yield base, keys
            finally:
                delete_company(engine, A)
                delete_company(engine, B)
    finally:
        with engine.begin() as connection:
            connection.execute(delete(ApiKey).where(ApiKey.name.like("dashboard test %")))


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def open_page(service, browser):
    """A page signed in with a key (a fresh context each: its own sessionStorage), recording every
    request it makes."""
    base, _ = service
    contexts = []

    def open_(key: str, route: str = "", *, timezone: str = "UTC"):
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, timezone_id=timezone)
        contexts.append(context)
        page = context.new_page()
        page.requests = []
        page.on("request", lambda request: page.requests.append(request.url))
        page.goto(base + "/")
        page.fill("#api-key", key)
        page.click("#sign-in-form button[type=submit]")
        page.wait_for_selector("#nav:not([hidden])")
        if route:
            page.goto(f"{base}/#/{route}")
        return page

    yield open_
    for context in contexts:
        context.close()


def settled(page) -> None:
    """Every card has its answer (or its error)."""
    page.wait_for_function("() => document.querySelectorAll('.card').length > 0 && "
                           "[...document.querySelectorAll('.card')].every(c => c.dataset.state !== 'loading')")


def shown_money(text: str) -> str:
    """The API's string back from what the page shows ("$1,234.5" → "1234.5", "−$2" → "-2")."""
    return text.strip().replace("−", "-").replace("$", "").replace(",", "")


def period(days: int = 30) -> dict:
    return {"startDate": (TODAY - timedelta(days=days - 1)).isoformat(), "endDate": TODAY.isoformat()}


def test_a_bad_key_is_refused(service, browser):
    base, keys = service
    page = browser.new_page()
    try:
        page.goto(base + "/")
        page.fill("#api-key", "llm_nosuchkey_0000000000000000")
        page.click("#sign-in-form button[type=submit]")
        page.wait_for_selector("#sign-in-error:not([hidden])")
        assert "refused" in page.inner_text("#sign-in-error")
        assert page.is_hidden("#nav") and page.inner_text("#view") == ""
        assert page.evaluate("sessionStorage.getItem('ledger.apiKey')") is None
        # A real key without the read scope: refused too, saying why.
        page.fill("#api-key", keys["ingest only"])
        page.click("#sign-in-form button[type=submit]")
        page.wait_for_function("() => document.querySelector('#sign-in-error').textContent.includes('cannot read')")
        assert page.is_hidden("#nav") and page.evaluate("sessionStorage.getItem('ledger.apiKey')") is None
    finally:
        page.close()


def test_the_overview_shows_the_apis_numbers_for_the_period(service, open_page):
    base, keys = service
    api = Api(base, keys["a"])
    page = open_page(keys["a"], "overview")
    settled(page)
    states = page.eval_on_selector_all(".card", "cards => cards.map(c => [c.id, c.dataset.state])")
    assert dict(states) == {name: "ready" for name, _ in states}, states

    top = api.get("/api/insight/top", by="model", top=10, **period())
    assert page.get_attribute("#total-spend", "data-cost") == top["totals"]["cost"]
    assert shown_money(page.inner_text("#total-spend")) == top["totals"]["cost"]
    assert page.get_attribute("#previous-spend", "data-cost") == top["previousTotals"]["cost"]
    assert page.get_attribute("#spend-change", "data-percent") == top["change"]["costPercent"]
    assert page.get_attribute("#call-count", "data-value") == str(top["totals"]["calls"])

    # By model: each entry's key and exact cost, in the API's order.
    rows = page.eval_on_selector_all("#models li", "rows => rows.map(r => [r.dataset.key, r.dataset.cost, "
                                     "r.querySelector('.value').textContent])")
    assert [(key, cost) for key, cost, _ in rows] == [(e["key"], e["cost"]) for e in top["entries"]]
    assert all(shown_money(text) == cost for _, cost, text in rows)
    for card, by, label in (("users", "user", "key"), ("assistants", "assistant", "name")):
        answer = api.get("/api/insight/top", by=by, top=10, **period())
        rows = page.eval_on_selector_all(f"#{card} li", "rows => rows.map(r => [r.dataset.key, r.dataset.cost])")
        assert rows == [[e[label], e["cost"]] for e in answer["entries"]]
    providers = api.get("/api/costs/breakdown", by="provider", limit=20, **period())
    rows = page.eval_on_selector_all("#providers li", "rows => rows.map(r => [r.dataset.key, r.dataset.cost])")
    assert rows == [[e["key"], e["cost"]] for e in providers["entries"]]

    # The trend: each day's bar and each model's segment of it.
    daily = api.get("/api/costs/daily", by="model", top=6, **period())
    bars = page.eval_on_selector_all("#trend g.day", "groups => groups.map(g => [g.dataset.date, g.dataset.cost])")
    assert bars == [[day["date"], day["cost"]] for day in daily["days"]]
    segments = page.eval_on_selector_all("#trend rect.segment", "rects => rects.map(r => [r.dataset.date, "
                                         "r.dataset.key, r.dataset.cost])")
    expected = [[day["date"], key, cost] for day in daily["days"]
                for key, cost in [*zip(daily["keys"], day["split"]), ("other", day["other"])] if Decimal(cost) > 0]
    assert segments == expected
    # The spike is marked and explained.
    anomalies = api.get("/api/insight/anomalies", **period())
    assert SPIKE.isoformat() in [a["bucket"] for a in anomalies["anomalies"]]
    marked = page.eval_on_selector_all("#trend .anomaly-marker", "marks => marks.map(m => m.dataset.date)")
    assert marked == [a["bucket"] for a in anomalies["anomalies"]]
    assert SPIKE.isoformat() in page.inner_text("#trend .anomalies")

    # This month: spent so far (the page's running total ends at it) and the forecast line.
    forecast = api.get("/api/insight/forecast")
    assert page.get_attribute("#month-spent", "data-cost") == forecast["spent"]
    totals = page.eval_on_selector_all("#forecast circle.actual-point", "points => points.map(p => p.dataset.total)")
    assert Decimal(totals[-1]) == Decimal(forecast["spent"])
    assert page.get_attribute("#forecast line.forecast-line", "data-forecast") == page.get_attribute(
        "#month-forecast", "data-cost")

    # Budgets and alerts.
    status = api.get("/api/budgets/status")
    shown = page.eval_on_selector_all("#budgets tbody tr", "rows => rows.map(r => [...r.querySelectorAll('td[data-cost]')]"
                                      ".map(td => td.dataset.cost))")
    assert shown == [[b["spent"], b["limit"], b["remaining"]] for b in status["budgets"]]
    alerts = api.get("/api/alerts", limit=5)["alerts"]
    assert alerts and page.eval_on_selector_all("#budgets li[data-alert]", "items => items.map(i => +i.dataset.alert)") == [
        a["id"] for a in alerts]
    assert page.evaluate("performance.getEntriesByName('ledger:first-meaningful-paint').length") >= 1


def test_a_company_key_sees_its_company_only(service, open_page):
    base, keys = service
    page = open_page(keys["b"], "overview")
    settled(page)
    b_total = Api(base, keys["b"]).get("/api/insight/top", by="model", **period())["totals"]
    assert page.get_attribute("#total-spend", "data-cost") == b_total["cost"]
    assert page.eval_on_selector_all("#users li", "rows => rows.map(r => r.dataset.key)") == ["zed@b.example"]
    assert page.is_hidden("#budgets")  # A's budget is not B's
    page.goto(f"{base}/#/records")
    settled(page)
    assert set(page.eval_on_selector_all("table.records tbody td:nth-child(2)", "cells => cells.map(c => c.textContent)")) == {B}
    # Asking for A by name is refused by the API, and the page says so.
    page.goto(f"{base}/#/overview?companyId={A}")
    settled(page)
    assert page.get_attribute("#headline", "data-state") == "error"
    assert "company" in page.inner_text("#headline").lower()


def test_drill_down_from_a_model_and_from_a_trend_segment(service, open_page):
    base, keys = service
    api = Api(base, keys["a"])
    page = open_page(keys["a"], "overview")
    settled(page)
    page.click("#models li[data-key='claude-sonnet-4-5'] a.drill")
    page.wait_for_selector("body[data-page=records]")
    settled(page)
    assert "model=claude-sonnet-4-5" in page.url
    answer = api.get("/api/costs", model="claude-sonnet-4-5", page=1, limit=50, **period())
    ids = page.eval_on_selector_all("table.records tbody tr", "rows => rows.map(r => +r.dataset.id)")
    assert ids == [r["id"] for r in answer["records"]]
    assert page.input_value("#record-filters input[name=model]") == "claude-sonnet-4-5"

    page.goto(f"{base}/#/overview")
    settled(page)
    segment = f"#trend rect.segment[data-date='{SPIKE.isoformat()}'][data-key='gpt-4o']"
    segment_cost = page.get_attribute(segment, "data-cost")
    page.click(segment)
    page.wait_for_selector("body[data-page=records]")
    settled(page)
    answer = api.get("/api/costs", model="gpt-4o", startDate=SPIKE.isoformat(), endDate=SPIKE.isoformat(), limit=50)
    ids = page.eval_on_selector_all("table.records tbody tr", "rows => rows.map(r => +r.dataset.id)")
    assert ids == [r["id"] for r in answer["records"]] and ids
    costs = page.eval_on_selector_all("table.records tbody tr", "rows => rows.map(r => r.dataset.cost)")
    assert costs == [r["totalCost"] for r in answer["records"]]
    # The segment's cost is the sum of the calls behind it (fifteen: one page).
    assert answer["pagination"]["total"] == len(ids)
    assert sum((Decimal(r["totalCost"]) for r in answer["records"]), Decimal(0)) == Decimal(segment_cost)

    # A budget's row: the calls it counts this period (A's whole company since the 1st, UTC).
    page.goto(f"{base}/#/overview")
    settled(page)
    page.click("#budgets tbody tr a")
    page.wait_for_selector("body[data-page=records]")
    settled(page)
    first = TODAY.replace(day=1).isoformat()
    assert f"startDate={first}" in page.url and f"companyId={A}" in page.url
    answer = api.get("/api/costs", companyId=A, startDate=first, endDate=TODAY.isoformat(), limit=50)
    assert page.eval_on_selector_all("table.records tbody tr", "rows => rows.map(r => +r.dataset.id)") == [
        r["id"] for r in answer["records"]]


def test_records_filters_and_paging(service, open_page):
    base, keys = service
    api = Api(base, keys["a"])
    page = open_page(keys["a"], "records")
    settled(page)
    page.fill("#record-filters input[name=userId]", USERS[1])
    page.select_option("#record-filters select[name=success]", "false")
    page.click("#record-filters button[type=submit]")
    page.wait_for_function("() => location.hash.includes('success=false')")
    settled(page)
    answer = api.get("/api/costs", userId=USERS[1], success="false", limit=50, **period())
    rows = page.eval_on_selector_all("table.records tbody tr", "rows => rows.map(r => [+r.dataset.id, "
                                     "r.querySelector('.user').textContent, r.querySelector('.status').textContent])")
    assert [row[0] for row in rows] == [r["id"] for r in answer["records"]] and rows
    assert {(user, status) for _, user, status in rows} == {(USERS[1], "failed")}

    # Paging through every call of the period: page 2 is the API's page 2.
    page.goto(f"{base}/#/records")
    settled(page)
    first = page.eval_on_selector_all("table.records tbody tr", "rows => rows.map(r => +r.dataset.id)")
    page.click("#next-page")
    page.wait_for_function("() => location.hash.includes('page=2')")
    settled(page)
    second = page.eval_on_selector_all("table.records tbody tr", "rows => rows.map(r => +r.dataset.id)")
    answer = api.get("/api/costs", page=2, limit=50, **period())
    assert second == [r["id"] for r in answer["records"]] and not set(first) & set(second)
    durations = page.eval_on_selector_all("table.records tbody td.duration", "cells => cells.map(c => c.dataset.ms)")
    assert durations == [str(r["durationMs"]) for r in answer["records"]]
    assert re.search(rf"of {answer['pagination']['totalPages']:,}\b", page.inner_text("#page-of"))


def test_peaks_are_in_the_viewers_time_zone(service, open_page):
    base, keys = service
    page = open_page(keys["a"], "peaks", timezone="Asia/Tokyo")
    settled(page)
    assert "Asia/Tokyo" in page.text_content("#peaks h2")
    answer = Api(base, keys["a"]).get("/api/insight/peaks", timezone="Asia/Tokyo", **period())
    cells = page.eval_on_selector_all("table.heat tbody tr", "rows => rows.map(r => [r.dataset.weekday, "
                                      "[...r.querySelectorAll('td')].map(td => td.dataset.cost)])")
    expected = [[day["weekday"], [next((h["cost"] for h in day["hours"] if h["hour"] == hour), "0")
                                  for hour in range(24)]] for day in answer["weekdays"]]
    assert cells == expected
    # Calls at 08:00–17:59 UTC are 17:00–02:59 in Tokyo: the grid moved with the zone.
    busiest = max(((day["weekday"], h["hour"], Decimal(h["cost"])) for day in answer["weekdays"] for h in day["hours"]),
                  key=lambda cell: cell[2])
    assert busiest[1] in {*range(17, 24), 0, 1, 2}


def test_no_request_leaves_the_service_and_docs_work_offline(service, open_page):
    base, keys = service
    page = open_page(keys["a"], "overview")
    settled(page)
    for route in ("peaks", "records"):
        page.goto(f"{base}/#/{route}")
        settled(page)
    page.goto(f"{base}/docs")
    page.wait_for_selector(".opblock-summary-path")
    documented = set(Api(base, keys["a"]).request("GET", "/openapi.json")["paths"])
    shown = set(page.eval_on_selector_all(".opblock-summary-path", "paths => paths.map(p => p.dataset.path)"))
    assert shown == documented
    outside = [url for url in page.requests if not url.startswith((base, "data:"))]
    assert outside == []
