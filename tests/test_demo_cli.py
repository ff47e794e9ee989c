"""`flask costs demo` and `app.demo`: realistic, priced, reproducible demo traffic through the ledger."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from app.demo import MODELS, DemoTraffic
from app.models import LlmCall
from app.pricing import PriceBook
from app.pricing.catalog import resolve
from app.pricing.usage import usage_of


def demo_rows(session, seed: int) -> list[LlmCall]:
    return list(session.scalars(select(LlmCall).where(LlmCall.request_id.like(f"demo-{seed}-%"))))


def test_every_demo_model_resolves_in_the_catalog_and_has_a_price(session):
    book = PriceBook(session)
    for model in MODELS:
        assert resolve(model.provider, model.name), model
        assert book.price_at(model.provider, model.name, datetime.now(UTC)), model


def test_calls_are_reproducible_and_independent_of_the_count():
    today = date(2025, 7, 1)
    small, large = DemoTraffic(50, seed=3, today=today), DemoTraffic(500, seed=3, today=today)
    assert list(small) == list(large)[:50]
    assert list(DemoTraffic(50, seed=4, today=today)) != list(small)
    for call in large:
        assert datetime(2025, 4, 2, tzinfo=UTC) <= call.timestamp < datetime(2025, 7, 1, tzinfo=UTC)
        assert 0 <= call.cached_input_tokens <= call.input_tokens and call.output_tokens >= 0
        assert usage_of(call).problems() == {}  # parts never exceed their totals
        assert call.success == (call.error is None)


def test_token_types_and_tiers_appear_where_they_are_realistic():
    calls = list(DemoTraffic(3_000, days=28, seed=1, today=date(2025, 7, 1)))
    reasoning = Counter(call.model for call in calls if call.reasoning_tokens)
    assert set(reasoning) == {"o3-mini", "o4-mini", "gemini-2.5-flash", "models/gemini-2.5-pro"}
    assert all(call.reasoning_tokens < call.output_tokens for call in calls if call.reasoning_tokens and call.success)
    writes = [call for call in calls if call.cache_write_tokens]
    assert writes and {call.provider for call in writes} == {"anthropic"}
    one_hour = [call for call in writes if call.cache_write_1h_tokens]
    assert 0 < len(one_hour) < len(writes) and all(c.cache_write_1h_tokens == c.cache_write_tokens for c in one_hour)
    batch = [call for call in calls if call.service_tier == "batch"]
    assert {call.provider for call in batch} == {"openai"}
    assert {call.endpoint for call in batch} == {"/summarize", "/classify", "/embed"}  # offline work only
    openai = [call for call in calls if call.provider == "openai"]
    assert 0.05 < len(batch) / len(openai) < 0.5
    assert {call.service_tier for call in calls} == {"standard", "batch"}


def test_traffic_follows_office_hours_and_weekdays():
    calls = list(DemoTraffic(5_000, days=28, seed=1, today=date(2025, 7, 1)))
    hours = Counter(call.timestamp.hour for call in calls)
    weekdays = Counter(call.timestamp.weekday() for call in calls)
    assert hours[11] > 4 * hours[3]
    assert weekdays[2] > 2 * weekdays[6]


def test_demo_loads_priced_varied_traffic_and_is_idempotent(runner, session, caplog):
    ledger_logger = logging.getLogger("app.ledger")
    level = ledger_logger.level
    with caplog.at_level(logging.INFO, logger="app"):
        result = runner.invoke(args=["costs", "demo", "--calls", "300", "--days", "30", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "Demo seed 7: 300 calls stored, 0 duplicates" in result.stdout
    # Quiet while loading: neither the per-call INFO lines nor the reasoning-model warnings.
    assert not [r for r in caplog.records if r.name.startswith("app.ledger") and r.levelno < logging.ERROR]
    assert ledger_logger.level == level

    rows = demo_rows(session, 7)
    assert len(rows) == 300
    assert len({row.company_id for row in rows}) >= 3
    assert len({(row.company_id, row.assistant_name) for row in rows}) >= 5
    assert {row.provider for row in rows} == {"openai", "anthropic", "google"}
    assert len({row.model for row in rows}) >= 6
    assert {"/chat", "/summarize", "/classify", "/embed"} <= {row.endpoint for row in rows}
    assert len({row.user_id for row in rows}) >= 20
    failed = [row for row in rows if not row.success]
    assert 0 < len(failed) < 30 and all(row.error_message for row in failed)
    assert any(row.cached_input_tokens for row in rows)
    assert any(row.reasoning_tokens for row in rows) and any(row.cache_write_tokens for row in rows)
    assert {row.service_tier for row in rows} == {"standard", "batch"}
    assert all(row.price_id is not None and row.total_cost is not None for row in rows)
    assert all(row.duration_ms is not None and row.duration_ms > 0 for row in rows)
    assert len({row.timestamp.date() for row in rows}) >= 20
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert all(today - timedelta(days=30) <= row.timestamp < today for row in rows)

    total = sum(row.total_cost for row in rows)
    assert f"Total cost of the 300 demo calls: ${format(total.normalize(), 'f')}" in result.stdout

    again = runner.invoke(args=["costs", "demo", "--calls", "300", "--days", "30", "--seed", "7"])
    assert again.exit_code == 0, again.output
    assert "Demo seed 7: 0 calls stored, 300 duplicates" in again.stdout
    assert f"${format(total.normalize(), 'f')}" in again.stdout
    more = runner.invoke(args=["costs", "demo", "--calls", "350", "--days", "30", "--seed", "7"])
    assert "Demo seed 7: 50 calls stored, 300 duplicates" in more.stdout
    assert session.scalar(select(func.count()).where(LlmCall.request_id.like("demo-7-%"))) == 350


def test_demo_without_prices_says_how_to_price_later(runner, session):
    from app.models import ModelPrice

    session.query(ModelPrice).delete()  # rolled back with the test
    session.commit()
    result = runner.invoke(args=["costs", "demo", "--calls", "20", "--seed", "9"])
    assert result.exit_code == 0, result.output
    assert "20 calls are unpriced" in result.stdout and "costs reprice" in result.stdout
    assert all(row.total_cost is None for row in demo_rows(session, 9))


def test_calls_must_be_positive(runner):
    result = runner.invoke(args=["costs", "demo", "--calls", "0"])
    assert result.exit_code == 2
