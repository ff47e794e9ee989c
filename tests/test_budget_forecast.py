"""A budget's forecast (`GET /api/budgets/<id>/forecast`, `flask costs budgets forecast`): spent so
far plus the rest of the period at the insight forecast's daily rates — or, for a budget those rates
cannot describe, its own run-rate — and when the limit would be reached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.committed import partitions_restored
from tests.test_budget_spend import GPT4O, budget


@pytest.fixture(autouse=True)
def _no_partitions_left(engine):
    """The service's partition keeper commits the months these calls fall in: dropped afterwards."""
    with partitions_restored(engine):
        yield


TOLERANCE = Decimal("0.000002")


def history(client, days: int = 56, **fields) -> None:
    """One gpt-4o call ($0.0075) at noon UTC on each of the last `days` days before today."""
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    calls = [{"provider": "openai", "model": "gpt-4o", "inputTokens": 1000, "outputTokens": 500, "companyId": "acme",
              "timestamp": (today - timedelta(days=n)).isoformat()} | fields for n in range(1, days + 1)]
    assert client.post("/api/calls/batch", json={"calls": calls}).status_code == 200


def test_a_steady_company_budget_is_forecast_at_its_daily_rate(client, runner):
    history(client)
    made = budget(client, limit="1000")
    answer = client.get(f"/api/budgets/{made['id']}/forecast")
    assert answer.status_code == 200, answer.json
    f = answer.json
    left = (datetime.fromisoformat(f["resetsAt"]) - datetime.fromisoformat(f["now"])).total_seconds() / 86_400
    expected = Decimal(f["spent"]) + GPT4O * Decimal(left)
    assert abs(Decimal(f["forecast"]) - expected) <= TOLERANCE
    assert f["low"] == f["high"] == f["forecast"] and f["willExceed"] is False and f["exceedsAt"] is None
    assert "weekday medians" in f["method"]
    out = runner.invoke(args=["costs", "budgets", "forecast", str(made["id"])])
    assert out.exit_code == 0 and f"forecast:     ${Decimal(f['forecast']).normalize():f}" in out.output


def test_when_the_limit_will_be_reached(client):
    history(client)
    made = budget(client, limit="1000")
    f = client.get(f"/api/budgets/{made['id']}/forecast").json
    now, resets = datetime.fromisoformat(f["now"]), datetime.fromisoformat(f["resetsAt"])
    if resets - now < timedelta(days=1):
        return  # the month ends within the day: no room for the half-day crossing below
    limit = Decimal(f["spent"]) + GPT4O / 2  # half a day's spend left
    assert client.patch(f"/api/budgets/{made['id']}", json={"limit": str(limit)}).status_code == 200
    f = client.get(f"/api/budgets/{made['id']}/forecast").json
    crossing = datetime.fromisoformat(f["exceedsAt"]) - datetime.fromisoformat(f["now"])
    assert f["willExceed"] is True and abs(crossing - timedelta(hours=12)) < timedelta(seconds=1)


def test_a_budget_of_a_user_and_a_model_is_forecast_at_its_own_run_rate(client):
    made = budget(client, userId="alice", model="gpt-4o", limit="1000")
    client.post("/api/calls", json={"provider": "openai", "model": "gpt-4o", "inputTokens": 1000, "outputTokens": 500,
                                    "companyId": "acme", "userId": "alice"})
    f = client.get(f"/api/budgets/{made['id']}/forecast").json
    start, now, resets = (datetime.fromisoformat(f[k]) for k in ("periodStart", "now", "resetsAt"))
    rate = GPT4O / Decimal((now - start).total_seconds())
    expected = GPT4O + rate * Decimal((resets - now).total_seconds())
    assert f["spent"] == "0.0075" and abs(Decimal(f["forecast"]) - expected) <= TOLERANCE
    assert f["method"].startswith("the budget's own run-rate")


def test_another_companys_budget_has_no_forecast_for_this_key(client, make_client):
    made = budget(client)
    assert make_client("globex", "read").get(f"/api/budgets/{made['id']}/forecast").status_code == 404
