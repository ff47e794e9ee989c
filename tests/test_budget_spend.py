"""What budgets have spent: counted by the ledger in the write that stores each call, exact to the
last committed call — the pre-flight check, the ingest answer, status, narrowing, budgets made
after their calls, repricing, and tenants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from app.models import BudgetAlert
from tests.committed import partitions_restored
from tests.test_reprice import MODEL, PROVIDER, add_price, reprice


@pytest.fixture(autouse=True)
def _no_partitions_left(engine):
    """The service's partition keeper commits the months these calls fall in: dropped afterwards."""
    with partitions_restored(engine):
        yield


GPT4O = Decimal("0.0075")  # 1,000 input tokens at $2.5/MTok + 500 output at $10/MTok


def now_iso(**delta) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def call(client, company="acme", **fields) -> dict:
    body = {"provider": "openai", "model": "gpt-4o", "inputTokens": 1000, "outputTokens": 500,
            "companyId": company, "timestamp": now_iso(seconds=1)} | fields
    response = client.post("/api/calls", json=body)
    assert response.status_code == 201, response.json
    return response.json


def budget(client, **fields) -> dict:
    response = client.post("/api/budgets", json={"companyId": "acme", "period": "month", "limit": "0.03",
                                                 "thresholds": [50, 100]} | fields)
    assert response.status_code == 201, response.json
    return response.json


def check(client, **params) -> dict:
    response = client.get("/api/budgets/check", query_string={"companyId": "acme"} | params)
    assert response.status_code == 200, response.json
    return response.json


def alerts(session, budget_id: int) -> list[tuple[int, Decimal]]:
    return [(a.threshold, a.spent) for a in session.scalars(
        select(BudgetAlert).where(BudgetAlert.budget_id == budget_id).order_by(BudgetAlert.id)
        .execution_options(populate_existing=True))]


def test_spend_check_ingest_answer_and_alerts_follow_every_call(client, session):
    made = budget(client, timezone="Europe/Berlin")
    assert check(client) | {"budgets": None} == {
        "allowed": True, "budgetId": made["id"], "period": "month", "spent": "0", "limit": "0.03", "remaining": "0.03",
        "resetsAt": check(client)["resetsAt"], "budgets": None}
    first = call(client)
    [state] = first["budgets"]
    assert (state["budgetId"], state["spent"], state["remaining"], state["exceeded"]) == (made["id"], "0.0075",
                                                                                          "0.0225", False)
    call(client)
    assert alerts(session, made["id"]) == [(50, 2 * GPT4O)]  # 0.015 = 50% of 0.03, exactly
    call(client)
    assert alerts(session, made["id"]) == [(50, 2 * GPT4O)]  # once per threshold and period
    answer = check(client)
    assert (answer["allowed"], answer["spent"], answer["remaining"]) == (True, "0.0225", "0.0075")
    assert check(client, estimatedCost="0.0075")["allowed"] is True  # reaching the limit exactly is allowed
    assert check(client, estimatedCost="0.0076")["allowed"] is False  # going past it is not
    last = call(client)
    assert last["budgets"][0]["exceeded"] is True and last["budgets"][0]["remaining"] == "0"
    assert alerts(session, made["id"]) == [(50, 2 * GPT4O), (100, 4 * GPT4O)]
    assert check(client)["allowed"] is False
    # Berlin's month: it resets at local midnight of the 1st, which is 23:00 UTC the day before in winter.
    resets = datetime.fromisoformat(answer["resetsAt"])
    assert resets.astimezone(UTC).hour == 23 and (resets + timedelta(hours=1)).day == 1


def test_a_batch_answer_names_each_calls_budgets_and_gives_each_budget_once(client):
    company = budget(client, limit="1")
    alice = budget(client, userId="alice", limit="1")
    body = {"provider": "openai", "model": "gpt-4o", "inputTokens": 1000, "outputTokens": 500, "companyId": "acme",
            "timestamp": now_iso(seconds=1)}
    answer = client.post("/api/calls/batch", json={"calls": [body | {"userId": "alice"}, body, body]}).json
    assert [c["budgetIds"] for c in answer["calls"]] == [[company["id"], alice["id"]], [company["id"]], [company["id"]]]
    assert [(b["budgetId"], b["spent"]) for b in answer["budgets"]] == [(company["id"], "0.0225"),
                                                                        (alice["id"], "0.0075")]


def test_a_call_is_recorded_even_over_budget(client):
    made = budget(client, limit="0.001")
    stored = call(client)
    assert stored["budgets"][0]["exceeded"] and stored["totalCost"] == "0.0075"
    assert check(client)["budgetId"] == made["id"]


def test_narrowed_budgets_count_only_their_calls_and_the_tightest_answers(client):
    everyone = budget(client, limit="100")
    alice = budget(client, userId="alice", limit="1")
    gpt = budget(client, model="gpt-4o-2024-08-06", limit="50")  # any spelling: matched on the canonical model
    call(client, userId="alice")
    call(client, userId="bob")
    call(client, userId="bob", model="gpt-4o-mini")
    states = {b["budgetId"]: Decimal(b["spent"]) for b in client.get("/api/budgets/status").json["budgets"]}
    mini = Decimal("0.00045")  # 1,000 at $0.15 + 500 at $0.6 per MTok
    assert states == {everyone["id"]: 2 * GPT4O + mini, alice["id"]: GPT4O, gpt["id"]: 2 * GPT4O}
    answer = check(client, userId="alice", model="gpt-4o")
    assert answer["budgetId"] == alice["id"] and [b["budgetId"] for b in answer["budgets"]] == [
        everyone["id"], alice["id"], gpt["id"]]
    assert [b["budgetId"] for b in check(client, userId="bob", model="gpt-4o-mini")["budgets"]] == [everyone["id"]]


def test_a_budget_narrowed_to_a_key_counts_that_keys_calls(client, make_client, session):
    from app.models import ApiKey

    sender = make_client("acme", "ingest,read")
    key_id = session.scalar(select(ApiKey.id).order_by(ApiKey.id.desc()).limit(1))
    keyed = budget(client, apiKeyId=key_id, limit="1")
    call(sender)
    call(client)  # another key's
    assert check(sender)["budgetId"] == keyed["id"] and check(sender)["spent"] == str(GPT4O)
    assert [b["budgetId"] for b in check(client)["budgets"]] == []  # the asking key is not the budget's


def test_a_budget_made_after_its_calls_counts_its_current_period_from_the_raw_calls(client, session):
    call(client)
    call(client)
    call(client, timestamp=now_iso(days=40))  # an earlier month: not this period's
    made = budget(client, limit="0.02", thresholds=[50, 80])
    assert check(client)["spent"] == "0.015"
    assert alerts(session, made["id"]) == [(50, 2 * GPT4O)]  # 0.015 ≥ 50% of 0.02, < 80%
    changed = client.patch(f"/api/budgets/{made['id']}", json={"limit": "0.015"})
    assert changed.status_code == 200
    assert alerts(session, made["id"]) == [(50, 2 * GPT4O), (80, 2 * GPT4O)]  # a lower limit: 100% of it now
    rescoped = client.patch(f"/api/budgets/{made['id']}", json={"userId": "nobody"})
    assert rescoped.status_code == 200 and check(client, userId="nobody")["spent"] == "0"


def test_a_late_call_counts_in_its_own_period(client, session):
    made = budget(client, period="day", limit="1")
    session.execute(text("UPDATE budget SET tracked_from = tracked_from - interval '10 days' WHERE id = :id"),
                    {"id": made["id"]})
    session.commit()
    late = call(client, timestamp=now_iso(days=3))
    [state] = late["budgets"]
    assert state["spent"] == str(GPT4O) and datetime.fromisoformat(state["resetsAt"]) < datetime.now(UTC)
    assert check(client)["spent"] == "0"  # today's period is untouched


def test_repricing_moves_spend_and_crosses_thresholds_once(client, runner, session):
    made = budget(client, limit="0.009", thresholds=[50, 100])
    body = {"provider": PROVIDER, "model": MODEL, "timestamp": now_iso(seconds=5)}
    stored = [call(client, **body, requestId=f"r{n}") for n in range(2)]
    assert [s["priced"] for s in stored] == [False, False] and check(client)["spent"] == "0"
    add_price(session, datetime.now(UTC) - timedelta(days=1))  # 1,000 at $1.5 + 500 at $6 per MTok: 0.0045 a call
    reprice(runner)
    assert check(client)["spent"] == "0.009"
    assert alerts(session, made["id"]) == [(50, Decimal("0.009")), (100, Decimal("0.009"))]
    reprice(runner, "--all")  # nothing changes: nothing is added, no alert again
    assert check(client)["spent"] == "0.009" and len(alerts(session, made["id"])) == 2


def test_another_companys_key_sees_and_checks_nothing_of_this_one(client, make_client):
    budget(client)
    call(client)
    other = make_client("globex", "ingest,read,admin")
    assert other.get("/api/budgets/check", query_string={"companyId": "acme"}).status_code == 403
    assert other.get("/api/budgets/check").json["budgets"] == []  # its own company: no budget
    assert other.get("/api/budgets/status").json == {"budgets": []}
    assert other.get("/api/budgets/status", query_string={"companyId": "acme"}).status_code == 403


def test_the_check_needs_a_company_and_valid_numbers(client):
    assert "companyId" in client.get("/api/budgets/check").json["errors"]["query"]
    bad = client.get("/api/budgets/check", query_string={"companyId": "acme", "estimatedCost": "-1"})
    assert bad.status_code == 400 and "estimatedCost" in bad.json["errors"]["query"]


def test_budgets_status_command(client, runner):
    made = budget(client, limit="0.01")
    call(client)
    out = runner.invoke(args=["costs", "budgets", "status", "--company", "acme"])
    assert out.exit_code == 0, out.output
    assert f"{made['id']}" in out.output and "0.0075" in out.output and "75.0%" in out.output


def test_a_new_period_starts_afresh(client, session):
    made = budget(client, period="day", limit="0.0075", thresholds=[100])
    session.execute(text("UPDATE budget SET tracked_from = tracked_from - interval '2 days' WHERE id = :id"),
                    {"id": made["id"]})
    session.commit()
    call(client, timestamp=now_iso(days=1))  # yesterday's period: crossed there
    call(client, timestamp=now_iso(days=1))
    assert [a for a in alerts(session, made["id"])] == [(100, GPT4O)]
    assert check(client)["spent"] == "0" and check(client)["allowed"] is True  # today starts at 0
    call(client)
    periods = session.execute(text("SELECT period_start FROM budget_alert WHERE budget_id = :id ORDER BY id"),
                              {"id": made["id"]}).scalars().all()
    assert len(periods) == 2 and periods[0] < periods[1]  # one alert per period


def test_budgets_recount_command_counts_again_from_raw_calls(client, runner, session):
    made = budget(client, limit="1")
    call(client)
    session.execute(text("UPDATE budget_spend SET spent = 0 WHERE budget_id = :id"), {"id": made["id"]})
    session.commit()
    out = runner.invoke(args=["costs", "budgets", "recount"])
    assert out.exit_code == 0 and "recounted 1 budget(s)" in out.output
    assert check(client)["spent"] == "0.0075"
    assert runner.invoke(args=["costs", "budgets", "recount", "999999"]).exit_code != 0
