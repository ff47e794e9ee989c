"""The benchmark's generator: reproducible, consistent calls, priced exactly as the ledger prices them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bench.generate import COPY_COLUMNS, CopyPricer, Traffic
from app.pricing.usage import TokenUsage

TODAY = date(2026, 11, 24)


def test_calls_are_reproducible_consistent_and_inside_the_period():
    traffic = Traffic(today=TODAY)
    calls = list(traffic.calls(2_000, "t"))
    assert calls == list(traffic.calls(2_000, "t"))
    assert calls != list(traffic.calls(2_000, "u"))
    assert len({call.request_id for call in calls}) == len(calls)
    for call in calls:
        moment = datetime.fromisoformat(traffic.api_body(call)["timestamp"])
        assert traffic.start <= moment < traffic.end == datetime(2026, 11, 24, tzinfo=UTC)
        assert datetime.fromisoformat(traffic.timestamp_text(call)) == moment
        usage = TokenUsage(call.input_tokens, call.output_tokens, cached_input_tokens=call.cached_input_tokens,
                           cache_write_tokens=call.cache_write_tokens,
                           cache_write_1h_tokens=call.cache_write_1h_tokens, reasoning_tokens=call.reasoning_tokens)
        assert usage.problems() == {}
        assert call.success == (call.error is None)


def test_copy_lines_are_priced_like_the_ledger(session):
    traffic = Traffic(today=TODAY)
    pricer = CopyPricer(session, traffic, check_every=1)  # every call priced both ways; a difference raises
    lines = [pricer.line(call) for call in traffic.calls(2_000, "t")]
    assert pricer.checked + pricer.slow_path == len(lines)
    rows = [line.rstrip("\n").split("\t") for line in lines]
    assert {len(row) for row in rows} == {len(COPY_COLUMNS)}
    assert all(row[COPY_COLUMNS.index("price_id")] != "\\N" for row in rows)  # every demo model has a price


def test_live_calls_fall_between_midnight_and_now():
    traffic = Traffic(today=TODAY)
    now = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    for body in traffic.live_bodies(500, "live", now):
        assert traffic.end <= datetime.fromisoformat(body["timestamp"]) < now
