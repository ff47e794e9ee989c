"""Monthly partitions, the default partition as a safety net, retention, and rollup rebuilds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select, text, update

from app import analytics
from app.ledger import Ledger
from app.ledger.rollup_tables import DAY, MONTH, USER_MODEL
from app.models import CallRequestKey, LlmCall
from tests.rollups import rollup_differences
from app.records import NewCall
from app.partitions import (DEFAULT, add_months, drop_partitions_before, ensure_partitions, list_partitions,
                            partition_name)


def post(client, timestamp: str, **extra):
    body = {"provider": "openai", "model": "gpt-4o", "inputTokens": 1000, "outputTokens": 500,
            "companyId": "part", "timestamp": timestamp} | extra
    r = client.post("/api/calls", json=body)
    assert r.status_code == 201, r.json
    return r.json


def partition_of(session, call_id: int) -> str:
    return session.execute(text("SELECT tableoid::regclass::text FROM llm_call_log WHERE id = :id"),
                           {"id": call_id}).scalar_one()


def unkept(session, timestamp: datetime, **extra) -> int:
    """A call written by a ledger without a partition keeper: it waits in the default partition."""
    [result] = Ledger(session).record([NewCall(provider="openai", model="gpt-4o", input_tokens=1000,
                                               output_tokens=500, company_id="part", timestamp=timestamp, **extra)])
    return result.call.id


def test_the_service_makes_a_calls_month_before_the_call_arrives_and_months_ahead(client, session):
    call = post(client, "2019-05-17T08:00:00+00:00")
    assert partition_of(session, call["id"]) == "llm_call_log_p201905"
    months = {p.month for p in list_partitions(session) if p.month}
    this_month = datetime.now(UTC).date().replace(day=1)
    assert {this_month, add_months(this_month, 3)} <= months  # PARTITIONS_AHEAD = 3
    first = post(client, "2000-01-01T00:00:00+00:00")  # the first month the ledger holds: a four-digit name
    assert partition_of(session, first["id"]) == "llm_call_log_p200001"
    batch = client.post("/api/calls/batch", json={"calls": [
        {"provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "companyId": "part",
         "timestamp": f"2000-{month:02d}-28T23:00:00+00:00"} for month in (2, 3)]})
    assert batch.status_code == 200, batch.json
    assert [partition_of(session, c["id"]) for c in batch.json["calls"]] == ["llm_call_log_p200002",
                                                                             "llm_call_log_p200003"]


def test_a_month_that_cannot_be_made_in_time_waits_in_the_default_partition(engine, session, monkeypatch, caplog):
    """Making a partition waits for the log's lock at most LOCK_TIMEOUT; past it the write goes on and
    its calls wait in the default partition (never refused) until a later write moves them."""
    from sqlalchemy.orm import sessionmaker

    from app import partitions

    monkeypatch.setattr(partitions, "LOCK_TIMEOUT", "100ms")
    session.execute(text("SELECT 1 FROM llm_call_log LIMIT 1"))  # this transaction holds a lock on the log
    keeper = partitions.PartitionKeeper(sessionmaker(engine))  # another connection: its DDL must wait
    [result] = Ledger(session, partitions=keeper).record([NewCall(
        provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1, company_id="part",
        timestamp=datetime(2019, 7, 1, tzinfo=UTC))])
    assert partition_of(session, result.call.id) == DEFAULT
    assert "Could not make the partitions" in caplog.text


def test_partition_names_pad_the_year():
    assert partition_name(date(1, 2, 1)) == "llm_call_log_p000102"
    assert partition_name(date(2199, 12, 1)) == "llm_call_log_p219912"


def test_ensure_creates_months_ahead_and_moves_waiting_calls_in(client, session):
    waiting_id = unkept(session, datetime(2019, 5, 17, 8, tzinfo=UTC), request_id="old-1")
    assert partition_of(session, waiting_id) == DEFAULT
    created = ensure_partitions(session, today=date(2031, 1, 15), months_ahead=2)
    assert created == ["llm_call_log_p201905", "llm_call_log_p203101", "llm_call_log_p203102",
                       "llm_call_log_p203103"]
    assert partition_of(session, waiting_id) == "llm_call_log_p201905"
    retry = client.post("/api/calls", json={"provider": "openai", "model": "gpt-4o", "inputTokens": 1,
                                            "outputTokens": 1, "companyId": "part", "requestId": "old-1"})
    assert retry.json["duplicate"] and retry.json["id"] == waiting_id  # still found after the move
    assert ensure_partitions(session, today=date(2031, 1, 15), months_ahead=2) == []  # idempotent
    [future] = Ledger(session).record([NewCall(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1,
                                               company_id="part", timestamp=datetime(2031, 2, 3, tzinfo=UTC))])
    assert partition_of(session, future.call.id) == "llm_call_log_p203102"


def test_pruning_drops_raw_months_but_the_rollup_keeps_their_history(client, session):
    old = post(client, "2019-05-17T08:00:00+00:00", requestId="old-2")
    ensure_partitions(session, today=date(2019, 5, 1), months_ahead=0)
    before = analytics.summary(session, date(2019, 5, 1), date(2019, 5, 31), company_id="part")
    assert before.totals.calls == 1 and before.totals.cost == Decimal("0.0075")

    result = drop_partitions_before(session, date(2019, 6, 1))
    assert "llm_call_log_p201905" in result.dropped and result.keys_deleted >= 1
    assert session.scalar(select(func.count()).select_from(LlmCall).where(LlmCall.id == old["id"])) == 0
    assert session.scalar(select(func.count()).select_from(CallRequestKey)
                          .where(CallRequestKey.request_id == "old-2")) == 0
    after = analytics.summary(session, date(2019, 5, 1), date(2019, 5, 31), company_id="part")
    assert after.totals == before.totals  # history survives in the rollup


def test_partition_commands(runner, session):
    unkept(session, datetime(2019, 5, 17, 8, tzinfo=UTC))
    listed = runner.invoke(args=["costs", "partitions", "list"])
    assert listed.exit_code == 0 and DEFAULT in listed.stdout
    ensured = runner.invoke(args=["costs", "partitions", "ensure", "--ahead", "1"])
    assert ensured.exit_code == 0 and "llm_call_log_p201905" in ensured.stdout
    dry = runner.invoke(args=["costs", "partitions", "prune", "--keep-months", "12", "--dry-run"])
    assert dry.exit_code == 0 and "would drop" in dry.stdout and "llm_call_log_p201905" in dry.stdout
    pruned = runner.invoke(args=["costs", "partitions", "prune", "--keep-months", "12"])
    assert pruned.exit_code == 0 and "llm_call_log_p201905" in pruned.stdout
    assert "llm_call_log_p201905" not in [p.name for p in list_partitions_of(runner)]


def list_partitions_of(runner):
    with runner.app.app_context():
        from app.db import get_session

        return list_partitions(get_session())


def test_rollup_rebuild_repairs_a_damaged_rollup(client, session, runner):
    post(client, "2026-03-05T10:00:00+00:00")
    post(client, "2026-03-05T11:00:00+00:00", success=False, error="timeout")
    day, month = USER_MODEL.model(DAY), USER_MODEL.model(MONTH)
    rollup = select(func.sum(day.calls), func.sum(day.total_cost)).where(
        day.company_id == "part", day.day == date(2026, 3, 5))
    good = session.execute(rollup).one()
    session.execute(update(day).where(day.company_id == "part").values(calls=999, total_cost=0))
    session.execute(update(month).where(month.company_id == "part").values(calls=5))
    session.commit()
    assert rollup_differences(session, "part")
    result = runner.invoke(args=["costs", "rollups", "rebuild", "--since", "2026-03-05", "--until", "2026-03-05"])
    assert result.exit_code == 0 and "rebuilt 2026-03-05 .. 2026-03-05" in result.stdout
    session.expire_all()
    assert session.execute(rollup).one() == good == (2, Decimal("0.015"))
    assert rollup_differences(session, "part") == {}  # the month too, from the days
