"""The benchmark's generator: reproducible, consistent calls from an organisation of the shape asked
for, heavy-tailed, every model but the designated unknown ones priced exactly as the ledger
prices them, and COPY lines that load into a migrated database."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from app.pricing import PriceBook
from app.pricing.catalog import canonical, resolve
from app.pricing.usage import TokenUsage
from bench import organisation
from bench.dataset import profile, top_share
from bench.generate import COPY_COLUMNS, LATE_HOURS, CopyPricer, Traffic
from bench.llms import PRICED, UNKNOWN
from bench.load import COPY_SQL
from bench.shape import MID, PRESETS, Shape

TODAY = date(2026, 11, 24)
SMALL = Shape("test", companies=5, users=300, assistants=25, endpoints=12, models=40)
UNKNOWN_MODELS = {(s.provider, s.name) for llm in UNKNOWN for s in llm.spellings}


@pytest.fixture(scope="module")
def mid_sample():
    """200,000 calls of the default shape (about two seconds)."""
    traffic = Traffic(MID, today=TODAY)
    return traffic, list(traffic.calls(200_000, "sample"))


def test_calls_are_reproducible_consistent_and_inside_the_period():
    traffic = Traffic(SMALL, today=TODAY)
    calls = list(traffic.calls(2_000, "t"))
    assert calls == list(Traffic(SMALL, today=TODAY).calls(2_000, "t"))  # the organisation too is rebuilt alike
    assert calls != list(traffic.calls(2_000, "u"))
    assert calls != list(Traffic(replace(SMALL, seed=5), today=TODAY).calls(2_000, "t"))
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
        assert (call.canonical_provider, call.canonical_model) == canonical(call.provider, call.model)


def test_the_organisation_has_the_shape_of_every_preset():
    for shape in (SMALL, *PRESETS.values()):
        org = organisation.build(shape)
        assert len(org.company_ids) == shape.companies
        assert len(set(org.user_ids)) == len(org.user_ids) == shape.users
        assert len(set(org.assistant_ids)) == len(org.assistant_ids) == shape.assistants
        assert len(org.endpoints) == shape.endpoints
        assert len({canonical(provider, model) for provider, model in org.models}) == shape.models
        used = {assistant for chosen, _ in org.user_assistants for assistant in chosen}
        assert used == set(range(shape.assistants))  # every assistant has a user
        for user, (chosen, _) in enumerate(org.user_assistants):  # … of its own company
            assert {org.assistant_company[assistant] for assistant in chosen} == {org.user_company[user]}


def test_a_sample_shows_the_shape(mid_sample):
    traffic, calls = mid_sample
    assert len({call.company_id for call in calls}) == MID.companies
    assert len({call.user_id for call in calls}) >= 0.98 * MID.users
    assert len({call.assistant_id for call in calls}) >= 0.98 * MID.assistants
    assert len({call.endpoint for call in calls}) == MID.endpoints
    priced = {(c.canonical_provider, c.canonical_model) for c in calls if (c.provider, c.model) not in UNKNOWN_MODELS}
    assert len(priced) == MID.models
    spellings = Counter((call.canonical_model, call.model) for call in calls)
    assert {model for model, spelt in spellings if model != spelt} >= {"gpt-4o", "claude-sonnet-4-5",
                                                                       "gemini-2.5-flash"}
    assert {spelt for _, spelt in spellings} >= {"gpt-4o", "gpt-4o-2024-08-06", "claude-sonnet-4-5-20250929",
                                                 "claude-sonnet-4-5", "models/gemini-2.5-flash", "gemini-2.5-flash"}


def test_activity_is_heavy_tailed(mid_sample):
    _, calls = mid_sample
    users = Counter(call.user_id for call in calls)
    assistants = Counter(call.assistant_id for call in calls)
    assert top_share(list(users.values()), 0.01) > 0.15  # the top 1% of users: far more than 1% of calls
    assert top_share(list(assistants.values()), 0.10) > 0.4
    flat = Traffic(replace(SMALL, user_skew=0.0), today=TODAY)
    even = Counter(call.user_id for call in flat.calls(60_000, "flat"))
    assert top_share(list(even.values()), 0.01) < 0.03  # skew 0: all users alike


def test_unknown_models_are_about_the_configured_share(mid_sample):
    _, calls = mid_sample
    unknown = sum((call.provider, call.model) in UNKNOWN_MODELS for call in calls) / len(calls)
    assert MID.unpriced_share * 0.8 < unknown < MID.unpriced_share * 1.2
    assert {(call.provider, call.model) for call in calls} >= UNKNOWN_MODELS
    demo = Traffic(PRESETS["demo"], today=TODAY)
    assert not any((call.provider, call.model) in UNKNOWN_MODELS for call in demo.calls(20_000, "d"))


def test_every_model_but_the_unknown_ones_is_priced(session):
    book = PriceBook(session)
    at = datetime(2026, 11, 1, tzinfo=UTC)
    for llm in PRICED:
        for spelling in llm.spellings:
            found = resolve(spelling.provider, spelling.name)
            assert found is not None, spelling
            assert canonical(spelling.provider, spelling.name)[1] == found[1] == canonical(llm.provider, llm.name)[1]
            price = book.price_at(spelling.provider, spelling.name, at)
            assert price is not None, spelling
            # Cache reads and writes are simulated only where the price bills them.
            assert not spelling.caches or price.cache_read_per_mtok is not None, spelling
            assert not spelling.cache_writes or price.cache_write_per_mtok is not None, spelling
            assert (price.output_per_mtok is not None) or llm.embeds, spelling
    for shape in PRESETS.values():
        for provider, model in organisation.build(shape).models:
            assert book.price_at(provider, model, at) is not None, (shape.preset, model)
    for llm in UNKNOWN:
        for spelling in llm.spellings:
            assert resolve(spelling.provider, spelling.name) is None
            assert book.price_at(spelling.provider, spelling.name, at) is None


def test_copy_lines_are_priced_like_the_ledger(session):
    traffic = Traffic(SMALL, today=TODAY)
    pricer = CopyPricer(session, traffic, check_every=1)  # every call priced both ways; a difference raises
    calls = list(traffic.calls(3_000, "t"))
    lines = [pricer.line(call) for call in calls]
    unpriced = sum((call.provider, call.model) in UNKNOWN_MODELS for call in calls)
    assert pricer.checked + pricer.slow_path == len(lines) - unpriced
    rows = [line.rstrip("\n").split("\t") for line in lines]
    assert {len(row) for row in rows} == {len(COPY_COLUMNS)}
    for call, row in zip(calls, rows, strict=True):
        assert (row[COPY_COLUMNS.index("price_id")] == "\\N") == ((call.provider, call.model) in UNKNOWN_MODELS)


def test_copy_lines_load_into_a_migrated_database(connection, session):
    traffic = Traffic(SMALL, today=TODAY)
    calls = list(traffic.calls(5_000, "load"))
    chunks = list(CopyPricer(session, traffic).chunks(iter(calls), rows_per_chunk=1_000))  # before the COPY:
    raw = connection.connection.driver_connection  # the session prices on the same connection
    with raw.cursor() as cursor, cursor.copy(COPY_SQL) as copy:  # CHECK and NOT NULL constraints apply
        for chunk in chunks:
            copy.write(chunk)
    stored = connection.execute(text(
        "SELECT count(*), count(price_id), count(*) FILTER (WHERE NOT success), sum(total_tokens), "
        "count(DISTINCT user_id) FROM llm_call_log WHERE request_id LIKE 'bench-load-%'")).one()
    unknown = sum((call.provider, call.model) in UNKNOWN_MODELS for call in calls)
    assert tuple(stored) == (len(calls), len(calls) - unknown, sum(not call.success for call in calls),
                             sum(call.input_tokens + call.output_tokens for call in calls),
                             len({call.user_id for call in calls}))
    first = connection.execute(text(
        "SELECT timestamp, provider, model, error_message, service_tier FROM llm_call_log "
        "WHERE request_id = 'bench-load-0'")).one()
    assert first == (datetime.fromisoformat(traffic.api_body(calls[0])["timestamp"]), calls[0].provider,
                     calls[0].model, calls[0].error, calls[0].service_tier)
    seen = profile(connection)  # the data's own description agrees with the calls
    assert seen.calls == len(calls)
    assert seen.users == len({call.user_id for call in calls})
    assert seen.endpoints == len({call.endpoint for call in calls})
    assert seen.busy_user == Counter(call.user_id for call in calls).most_common(1)[0][0]


def test_live_calls_fall_between_midnight_and_now_but_the_late_ones():
    traffic = Traffic(SMALL, today=TODAY)
    now = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)  # every late call (1 to 72 hours late) falls before midnight
    stamps = [datetime.fromisoformat(body["timestamp"]) for body in traffic.live_bodies(20_000, "live", now)]
    late = [stamp for stamp in stamps if stamp < traffic.end]
    assert all(stamp < now for stamp in stamps)
    assert traffic.earliest_live(now) == now - timedelta(hours=LATE_HOURS[1])
    assert all(stamp >= traffic.earliest_live(now) for stamp in late)
    assert 0.7 * SMALL.late_share < len(late) / len(stamps) < 1.3 * SMALL.late_share
    on_time = Traffic(replace(SMALL, late_share=0.0), today=TODAY)
    assert on_time.earliest_live(now) == on_time.end
    assert all(on_time.end <= datetime.fromisoformat(body["timestamp"]) < now
               for body in on_time.live_bodies(2_000, "live", now))
