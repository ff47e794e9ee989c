"""Budget alerts: listed by `GET /api/alerts` and `flask costs alerts list`, scoped by company,
logged once each, and delivered from the outbox to a real local webhook — signed, with a stable
id, retried with backoff while the receiver is down, every alert once it is back."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import create_app
from app.alerts.delivery import Deliverer, sign
from app.config import Settings
from app.db import Database
from app.models import BudgetAlert
from tests.committed import partitions_restored
from tests.receiver import Receiver
from tests.test_budget_spend import budget, call


@pytest.fixture(autouse=True)
def _no_partitions_left(engine):
    """The service's partition keeper commits the months these calls fall in: dropped afterwards."""
    with partitions_restored(engine):
        yield


SECRET = "test-secret"


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.stop()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def crossed(client, **budget_fields) -> dict:
    """A budget of $0.015 with alerts at 50% and 100%, and two $0.0075 calls: one crosses each."""
    made = budget(client, limit="0.015", **budget_fields)
    call(client)
    call(client)
    return made


def test_alerts_are_listed_newest_first_and_filtered(client, runner):
    first = crossed(client)
    second = budget(client, limit="1", thresholds=[1])
    answer = client.get("/api/alerts").json["alerts"]
    assert [(a["budgetId"], a["threshold"]) for a in answer] == [(second["id"], 1), (first["id"], 100),
                                                                 (first["id"], 50)]
    alert = answer[1]
    assert (alert["spent"], alert["limit"], alert["period"], alert["delivery"], alert["attempts"]) == (
        "0.015", "0.015", "month", "pending", 0)
    assert datetime.fromisoformat(alert["periodEnd"]) > datetime.now(UTC) > datetime.fromisoformat(
        alert["periodStart"])
    only = client.get("/api/alerts", query_string={"budgetId": first["id"]}).json["alerts"]
    assert [a["threshold"] for a in only] == [100, 50]
    page = client.get("/api/alerts", query_string={"limit": 1, "beforeId": answer[0]["id"]}).json["alerts"]
    assert [a["id"] for a in page] == [answer[1]["id"]]
    out = runner.invoke(args=["costs", "alerts", "list", "--budget", str(first["id"])])
    assert out.exit_code == 0 and out.output.count("pending") == 2 and "100%" in out.output


def test_each_alert_is_logged_once(client, caplog):
    with caplog.at_level(logging.WARNING, logger="app.ledger.after_write"):
        crossed(client)
        call(client)
    lines = [r.getMessage() for r in caplog.records if "[BudgetAlert]" in r.getMessage()]
    assert len(lines) == 2 and "Threshold: 50%" in lines[0] and "Threshold: 100%" in lines[1]


def test_another_companys_key_sees_no_alert_of_this_one(client, make_client):
    crossed(client)
    other = make_client("globex", "read")
    assert other.get("/api/alerts").json == {"alerts": []}
    assert other.get("/api/alerts", query_string={"companyId": "acme"}).status_code == 403
    mine = make_client("acme", "read")
    assert len(mine.get("/api/alerts").json["alerts"]) == 2


@pytest.mark.parametrize(("params", "field"), [({"limit": 0}, "limit"), ({"budgetId": "x"}, "budgetId"),
                                               ({"beforeId": -1}, "beforeId"), ({"colour": "red"}, "colour")])
def test_bad_alert_queries_are_400_naming_the_field(client, params, field):
    answer = client.get("/api/alerts", query_string=params)
    assert answer.status_code == 400 and field in answer.json["errors"]["query"]


def test_delivery_survives_a_receiver_that_is_down(client, session_factory, receiver):
    made = crossed(client, webhookUrl=receiver.url)  # nothing listens on its port yet
    clock = Clock()
    deliverer = Deliverer(session_factory, secret=SECRET, clock=clock)
    first = deliverer.deliver_due()
    assert (first.delivered, first.failed) == (0, 2)
    pending = client.get("/api/alerts").json["alerts"]
    assert {(a["delivery"], a["attempts"]) for a in pending} == {("pending", 1)}
    assert all("Connection refused" in a["lastError"] or "URLError" in a["lastError"] for a in pending)
    assert deliverer.deliver_due().handled == 0  # not due again yet: backing off

    receiver.start()
    clock.now += timedelta(hours=1)
    back = deliverer.deliver_due()
    assert (back.delivered, back.failed) == (2, 0)
    assert deliverer.deliver_due().handled == 0  # delivered once; nothing left
    bodies = [json.loads(r.body) for r in receiver.received]
    assert sorted((b["budgetId"], b["threshold"], b["spent"], b["limit"]) for b in bodies) == [
        (made["id"], 50, "0.0075", "0.015"), (made["id"], 100, "0.015", "0.015")]
    for request in receiver.received:
        assert request.headers["x-ledger-signature"] == sign(SECRET.encode(), request.body)
        assert request.headers["x-ledger-alert-id"] == str(json.loads(request.body)["id"])
        assert request.headers["content-type"] == "application/json"
    delivered = client.get("/api/alerts").json["alerts"]
    assert {(a["delivery"], a["attempts"], a["lastError"]) for a in delivered} == {("delivered", 2, None)}


def test_a_refused_delivery_is_sent_again_with_the_same_id_and_bytes(client, session_factory, receiver):
    crossed(client, webhookUrl=receiver.url, thresholds=[100])
    receiver.start().status = 500
    clock = Clock()
    deliverer = Deliverer(session_factory, secret=SECRET, clock=clock, base_delay=1)
    assert deliverer.deliver_due().failed == 1
    assert client.get("/api/alerts").json["alerts"][0]["lastError"] == "HTTP 500"
    receiver.status = 200
    clock.now += timedelta(seconds=5)
    assert deliverer.deliver_due().delivered == 1
    first, second = receiver.received
    assert first.body == second.body and first.headers["x-ledger-alert-id"] == second.headers["x-ledger-alert-id"]
    assert (first.headers["x-ledger-attempt"], second.headers["x-ledger-attempt"]) == ("1", "2")


def test_the_default_webhook_serves_budgets_without_their_own_and_none_means_no_webhook(client, session_factory,
                                                                                          session, receiver):
    crossed(client, thresholds=[100])
    assert Deliverer(session_factory, secret=SECRET).deliver_due().no_webhook == 1
    assert client.get("/api/alerts").json["alerts"][0]["delivery"] == "no_webhook"
    session.execute(BudgetAlert.__table__.update().values(delivery="pending"))
    session.commit()
    receiver.start()
    assert Deliverer(session_factory, secret=SECRET, default_url=receiver.url).deliver_due().delivered == 1
    assert len(receiver.received) == 1


def test_backoff_grows_to_its_cap(session_factory):
    deliverer = Deliverer(session_factory, secret=SECRET, base_delay=2, max_delay=60)
    delays = [deliverer.backoff(n).total_seconds() for n in (1, 2, 3, 10)]
    assert 1.6 <= delays[0] <= 2.4 and 3.2 <= delays[1] <= 4.8 and 6.4 <= delays[2] <= 9.6 and 48 <= delays[3] <= 72


def test_alerts_deliver_command(client, engine, session_factory, database_url, receiver, runner):
    crossed(client, thresholds=[100])
    out = runner.invoke(args=["costs", "alerts", "deliver", "--once"])
    assert out.exit_code != 0 and "WEBHOOK_SECRET" in out.output
    app = create_app(Settings(database_url=database_url, webhook_secret=SECRET, alert_webhook_url=receiver.url),
                     Database(engine, session_factory))
    receiver.start()
    out = app.test_cli_runner().invoke(args=["costs", "alerts", "deliver", "--once"])
    assert out.exit_code == 0, out.output
    assert "delivered 1" in out.output and len(receiver.received) == 1


def test_deleting_a_budget_keeps_its_alerts(client, session):
    made = crossed(client)
    assert client.delete(f"/api/budgets/{made['id']}").status_code == 204
    kept = session.scalars(select(BudgetAlert).execution_options(populate_existing=True)).all()
    assert [(a.budget_id, a.threshold) for a in kept] == [(None, 50), (None, 100)]
