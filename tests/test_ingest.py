"""POST /api/calls and /api/calls/batch through the real app and database."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.ledger import ingest as ledger
from app.models import CallRequestKey, LlmCall

TS = "2026-03-05T10:00:00+00:00"


def call(**overrides):
    body = {
        "provider": "openai",
        "model": "gpt-4o",
        "inputTokens": 1000,
        "outputTokens": 500,
        "companyId": "comp_123",
        "assistantId": "asst_1",
        "assistantName": "Support Agent",
        "userId": "user_1",
        "endpoint": "/chat",
        "durationMs": 850,
        "timestamp": TS,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def call_row(session, call_id: int) -> LlmCall:
    return session.scalars(select(LlmCall).where(LlmCall.id == call_id)).one()


def count_calls(session) -> int:
    return session.scalar(select(func.count()).select_from(LlmCall))


@pytest.fixture(params=["arrays", "copy"])
def ingest_path(request, monkeypatch) -> str:
    """Run a test over both ways calls reach the ingest statement: arrays (small batches) and COPY."""
    monkeypatch.setattr(ledger, "COPY_ABOVE", 10_000 if request.param == "arrays" else 0)
    return request.param


# --- single call -------------------------------------------------------------------------------

def test_stores_priced_call_with_exact_costs(client, session, ingest_path):
    r = client.post("/api/calls", json=call(cachedInputTokens=200, metadata={"trace": "abc"}))
    assert r.status_code == 201, r.json
    body = r.json
    # gpt-4o: $2.50 input, $1.25 cached input, $10 output per million tokens
    assert body["inputCost"] == "0.00225"  # 800 * 2.5e-6 + 200 * 1.25e-6
    assert body["outputCost"] == "0.005"
    assert body["totalCost"] == "0.00725"
    assert body["priced"] is True and body["duplicate"] is False
    assert body["totalTokens"] == 1500
    assert body["timestamp"] == TS
    row = call_row(session, body["id"])
    assert row.total_cost == Decimal("0.00725")
    assert row.input_cost + row.output_cost == row.total_cost
    assert row.call_metadata == {"trace": "abc"}
    assert row.company_id == "comp_123" and row.user_id == "user_1" and row.endpoint == "/chat"
    assert row.price_id == body["priceId"]


def test_timestamp_is_stored_in_utc_and_defaults_to_now(client, session):
    r = client.post("/api/calls", json=call(timestamp="2026-03-05T12:00:00+02:00"))
    assert r.json["timestamp"] == "2026-03-05T10:00:00+00:00"
    r = client.post("/api/calls", json=call(timestamp=...))
    assert r.status_code == 201
    stored = call_row(session, r.json["id"]).timestamp
    assert stored.utcoffset().total_seconds() == 0
    assert abs((stored - call_row(session, r.json["id"]).recorded_at).total_seconds()) < 60


def test_price_in_force_at_the_call_time_is_used(client):
    # o3's price was cut on 2025-06-10: $10 -> $2 input, $40 -> $8 output per million tokens.
    before = client.post("/api/calls", json=call(model="o3", timestamp="2025-06-09T23:59:59+00:00"))
    after = client.post("/api/calls", json=call(model="o3", timestamp="2025-06-10T00:00:00+00:00"))
    assert before.json["totalCost"] == "0.03"  # 1000 * 10e-6 + 500 * 40e-6
    assert after.json["totalCost"] == "0.006"  # 1000 * 2e-6 + 500 * 8e-6
    assert before.json["priceId"] != after.json["priceId"]


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        ("openai", "gpt-4o-2024-08-06", "0.0075"),  # dated snapshot → gpt-4o
        ("OpenAI", "gpt-4o", "0.0075"),
        ("anthropic", "claude-sonnet-4-5-20250929", "0.0105"),  # $3 / $15
        ("google", "models/gemini-2.5-flash", "0.00155"),  # $0.30 / $2.50
        ("gemini", "gemini-2.5-flash", "0.00155"),
    ],
)
def test_model_names_as_sent_resolve_to_catalog_prices(client, session, provider, model, expected):
    r = client.post("/api/calls", json=call(provider=provider, model=model))
    assert r.status_code == 201, r.json
    assert r.json["totalCost"] == expected
    assert call_row(session, r.json["id"]).model == model  # the row keeps the name as sent


def test_unknown_model_is_stored_unpriced_and_warned(client, session, caplog, ingest_path):
    with caplog.at_level(logging.WARNING, logger="app.ledger"):
        r = client.post("/api/calls", json=call(provider="acme", model="acme-large-9"))
    assert r.status_code == 201
    assert r.json["priced"] is False
    assert r.json["inputCost"] is None and r.json["totalCost"] is None and r.json["priceId"] is None
    row = call_row(session, r.json["id"])
    assert row.total_cost is None and row.price_id is None and row.input_tokens == 1000
    assert any("No price for acme/acme-large-9" in m for m in caplog.messages)


def test_failed_call_is_recorded_with_its_error(client, session):
    r = client.post("/api/calls", json=call(success=False, error="rate_limit_exceeded", outputTokens=0))
    assert r.status_code == 201
    row = call_row(session, r.json["id"])
    assert row.success is False and row.error_message == "rate_limit_exceeded"
    assert r.json["totalCost"] == "0.0025"  # input tokens are still billed


def test_logs_one_cost_tracking_line_per_call(client, caplog):
    with caplog.at_level(logging.INFO, logger="app.ledger"):
        client.post("/api/calls", json=call(inputTokens=1000, outputTokens=250))
    lines = [m for m in caplog.messages if m.startswith("[CostTracking] Company")]
    assert lines == ["[CostTracking] Company: comp_123 | Assistant: Support Agent | Model: gpt-4o "
                     "| Tokens: 1,250 | Cost: $0.0050"]


@pytest.mark.parametrize("model", ["o1", "o1-mini", "o3", "o3-mini-2025-01-31"])
def test_reasoning_models_log_a_slow_model_warning(client, caplog, model):
    with caplog.at_level(logging.INFO, logger="app.ledger"):
        client.post("/api/calls", json=call(model=model, durationMs=45_000))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "Slow reasoning model" in r.message]
    assert len(warnings) == 1 and "45,000 ms" in warnings[0].message


def test_non_reasoning_models_do_not_warn(client, caplog):
    with caplog.at_level(logging.INFO, logger="app.ledger"):
        client.post("/api/calls", json=call(model="gpt-4o"))
        client.post("/api/calls", json=call(model="o4-mini"))
    assert not [r for r in caplog.records if "Slow reasoning" in r.message]


# --- idempotency -------------------------------------------------------------------------------

def test_retry_with_same_request_id_is_stored_once(client, session, ingest_path):
    first = client.post("/api/calls", json=call(requestId="req-1"))
    retry = client.post("/api/calls", json=call(requestId="req-1", timestamp=..., inputTokens=9999))
    assert first.status_code == 201 and retry.status_code == 200
    assert retry.json["duplicate"] is True
    assert retry.json["id"] == first.json["id"]
    assert retry.json["inputTokens"] == 1000  # the original, not the retry's body
    assert retry.json["differs"] == ["inputTokens"]  # flagged, not silently merged
    assert first.json["differs"] == []
    assert count_calls(session) == 1
    assert session.scalar(select(func.count()).select_from(CallRequestKey)) == 1


def test_request_ids_are_scoped_per_company(client, session):
    a = client.post("/api/calls", json=call(requestId="req-1", companyId="a"))
    b = client.post("/api/calls", json=call(requestId="req-1", companyId="b"))
    assert a.status_code == b.status_code == 201 and a.json["id"] != b.json["id"]
    assert count_calls(session) == 2


def test_calls_without_request_id_are_never_deduplicated(client, session):
    client.post("/api/calls", json=call())
    client.post("/api/calls", json=call())
    assert count_calls(session) == 2


def test_batch_retries_count_once_within_and_across_batches(client, session, ingest_path):
    first = client.post("/api/calls/batch", json={"calls": [call(requestId="x"), call(requestId="y")]})
    assert first.status_code == 200 and first.json["stored"] == 2
    again = client.post("/api/calls/batch", json={"calls": [call(requestId="y"), call(requestId="z"),
                                                            call(requestId="z"), call()]})
    assert again.json["stored"] == 2 and again.json["duplicates"] == 2
    flags = [c["duplicate"] for c in again.json["calls"]]
    assert flags == [True, False, True, False]
    assert again.json["calls"][0]["id"] == first.json["calls"][1]["id"]
    assert again.json["calls"][1]["id"] == again.json["calls"][2]["id"]
    assert count_calls(session) == 4


def test_an_identical_retry_differs_in_nothing_and_a_changed_one_names_each_field(client, caplog):
    client.post("/api/calls", json=call(requestId="r", metadata={"a": 1}))
    same = client.post("/api/calls", json=call(requestId="r", metadata={"a": 1}))
    assert same.status_code == 200 and same.json["differs"] == []
    with caplog.at_level(logging.WARNING, logger="app.ledger"):
        changed = client.post("/api/calls", json=call(requestId="r", timestamp="2026-03-05T11:00:00+00:00",
                                                      userId="someone-else", success=False, metadata={"a": 2}))
    assert changed.status_code == 200
    assert changed.json["differs"] == ["timestamp", "success", "userId", "metadata"]
    assert changed.json["userId"] == "user_1"  # the stored call is kept
    assert [r for r in caplog.records if "differs from the stored call" in r.message]


def test_a_retried_batch_of_the_maximum_size_is_answered_as_duplicates(client, session):
    calls = [call(requestId=f"req-{i}", userId=f"u{i % 97}") for i in range(10_000)]
    first = client.post("/api/calls/batch", json={"calls": calls})
    assert first.status_code == 200 and first.json["stored"] == 10_000
    # A retry of every call, and one of some calls beside new ones: never a 503 (the look-up of the
    # calls stored before once built an IN list PostgreSQL refused with "stack depth limit exceeded").
    again = client.post("/api/calls/batch", json={"calls": calls})
    assert again.status_code == 200, again.json
    assert again.json["duplicates"] == 10_000 and again.json["stored"] == 0
    assert [c["id"] for c in again.json["calls"]] == [c["id"] for c in first.json["calls"]]
    assert not any(c["differs"] for c in again.json["calls"])
    mixed = calls[:5_000] + [call(requestId=f"new-{i}") for i in range(5_000)]
    partly = client.post("/api/calls/batch", json={"calls": mixed})
    assert partly.status_code == 200 and partly.json["duplicates"] == partly.json["stored"] == 5_000
    assert count_calls(session) == 15_000


# --- batch -------------------------------------------------------------------------------------

def test_batch_stores_every_call_in_order(client, session, ingest_path):
    calls = [call(userId=f"u{i}", inputTokens=i * 10) for i in range(50)]
    r = client.post("/api/calls/batch", json={"calls": calls})
    assert r.status_code == 200, r.json
    assert r.json["stored"] == 50 and r.json["duplicates"] == 0
    assert [c["userId"] for c in r.json["calls"]] == [f"u{i}" for i in range(50)]
    assert count_calls(session) == 50


def test_batch_of_the_maximum_size_is_accepted(client, session):
    r = client.post("/api/calls/batch", json={"calls": [call()] * 10_000})
    assert r.status_code == 200 and r.json["stored"] == 10_000
    assert count_calls(session) == 10_000


# --- bad input: 4xx, every bad field named, nothing stored ---------------------------------------

@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        (call(inputTokens=-1), "inputTokens", "greater than or equal to 0"),
        (call(outputTokens=-5), "outputTokens", "greater than or equal to 0"),
        (call(cachedInputTokens=-1), "cachedInputTokens", "greater than or equal to 0"),
        (call(inputTokens="100"), "inputTokens", "Not a valid integer"),
        (call(inputTokens=10.5), "inputTokens", "Not a valid integer"),
        (call(inputTokens=True), "inputTokens", "Not a valid integer"),
        (call(durationMs="fast"), "durationMs", "Not a valid integer"),
        (call(durationMs=-1), "durationMs", "greater than or equal to 0"),
        (call(success="yes"), "success", "Not a valid boolean"),
        (call(model=123), "model", "Not a valid string"),
        (call(model=""), "model", "Length must be between 1 and 200"),
        (call(provider=...), "provider", "Missing data"),
        (call(inputTokens=...), "inputTokens", "Missing data"),
        (call(timestamp="2026-03-05T10:00:00"), "timestamp", "Not a valid aware datetime"),
        (call(timestamp="yesterday"), "timestamp", "Not a valid datetime"),
        (call(timestamp="2100-01-01T00:00:00+00:00"), "timestamp", "future"),
        (call(timestamp="2999-01-01T00:00:00+00:00"), "timestamp", "2199-12-31"),
        (call(cachedInputTokens=2000), "cachedInputTokens", "exceed inputTokens"),
        (call(metadata=["not", "an", "object"]), "metadata", "Not a valid mapping"),
        (call(costUsd=1.5), "costUsd", "Unknown field"),
    ],
)
def test_bad_call_is_rejected_naming_the_field(client, session, body, field, fragment):
    r = client.post("/api/calls", json=body)
    assert r.status_code == 400, r.json
    errors = r.json["errors"]["json"]
    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors[field]
    assert count_calls(session) == 0


def test_every_bad_field_is_reported_at_once(client):
    r = client.post("/api/calls", json=call(inputTokens=-1, outputTokens="x", success=1))
    assert set(r.json["errors"]["json"]) == {"inputTokens", "outputTokens", "success"}


def test_malformed_json_is_a_400(client, session):
    r = client.post("/api/calls", data="{not json", content_type="application/json")
    assert r.status_code == 400
    assert r.json["errors"]["json"] == ["Invalid JSON body."]
    assert count_calls(session) == 0


def test_body_must_be_a_json_object(client):
    r = client.post("/api/calls", json=[call()])
    assert r.status_code == 400
    assert "_schema" in r.json["errors"]["json"]


def test_bad_item_in_batch_names_its_index_and_stores_nothing(client, session):
    calls = [call(), call(), call(inputTokens=-3), call(), call(timestamp="2026-03-05T10:00:00")]
    r = client.post("/api/calls/batch", json={"calls": calls})
    assert r.status_code == 400
    errors = r.json["errors"]["json"]["calls"]
    assert set(errors) == {"2", "4"}
    assert "inputTokens" in errors["2"] and "timestamp" in errors["4"]
    assert count_calls(session) == 0


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"calls": []}, "Length must be between 1 and 10000"),
        ({"calls": [call()] * 10_001}, "Length must be between 1 and 10000"),
        ({"calls": "nope"}, "Not a valid list"),
        ({}, "Missing data"),
    ],
)
def test_bad_batch_envelope(client, session, body, fragment):
    r = client.post("/api/calls/batch", json=body)
    assert r.status_code == 400
    assert any(fragment in m for m in r.json["errors"]["json"]["calls"])
    assert count_calls(session) == 0


def test_oversized_request_body_is_a_413(client, app):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    r = client.post("/api/calls/batch", json={"calls": [call()] * 100})
    assert r.status_code == 413
    assert r.json["status"] == "Request Entity Too Large"


def test_an_unreachable_database_is_a_503_that_names_the_retry():
    from app import create_app
    from app.config import Settings
    from app.embedded_pg import free_port

    client = create_app(Settings(database_url=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere")
                        ).test_client()
    # The key cannot be checked either: an outage, not a wrong key.
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer llm_00000000_notchecked"
    single = client.post("/api/calls", json={"provider": "openai", "model": "gpt-4o", "inputTokens": 1,
                                             "outputTokens": 1, "requestId": "unreachable"})
    batch = client.post("/api/calls/batch", json={"calls": [{"provider": "openai", "model": "gpt-4o",
                                                             "inputTokens": 1, "outputTokens": 1}]})
    summary = client.get("/api/costs/summary?startDate=2026-11-01&endDate=2026-11-30")
    for answer in (single, batch, summary):
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
        assert answer.json["code"] == 503 and "retry" in answer.json["message"].lower()


def test_only_an_outage_is_called_one(engine):
    """An error PostgreSQL answers for the statement itself is not an outage (a retry would fail the
    same way for ever); a lost or refused connection, a shutdown or a cancelled statement is."""
    import psycopg
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from app.db import is_outage
    from app.embedded_pg import free_port

    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere", connect_timeout=2)
    assert is_outage(refused.value)
    with engine.connect() as conn, pytest.raises(DBAPIError) as too_deep:
        conn.execute(text("SET LOCAL max_stack_depth = '100kB'"))
        conn.execute(text("SELECT 1" + " + 1" * 100_000))
    assert getattr(too_deep.value.orig, "sqlstate", None) == "54001" and not is_outage(too_deep.value)
    with engine.connect() as conn, pytest.raises(DBAPIError) as cancelled:
        conn.execute(text("SET LOCAL statement_timeout = 1"))
        conn.execute(text("SELECT pg_sleep(1)"))
    assert is_outage(cancelled.value)
