"""Property: every analytics answer equals the same question asked as a raw GROUP BY.

Hypothesis generates traffic over six weeks that cross two month boundaries — late calls (out of
order), retries (duplicate request ids, within and across batches), failed calls, unpriced
models, one model under several spellings — ingests it through the real ledger in random
batches, then asks every question over random ranges (whole months, month edges read from either
side, days after "today") and top sizes:

- every rollup table equals the raw calls summed at its grain;
- summaries (totals, top entries of each breakdown, "other", previous period), daily series,
  reports by every key, every page of every breakdown (a metadata key promoted to a dimension
  half-way through the traffic included), single assistants and models (by any
  spelling), one user by model, the rolling total, and the records count past its exact limit
  equal raw GROUP BYs over the canonical names.

Then a price appears for the unknown model and a company negotiates a rate: everything is
repriced and checked again; then the oldest month's raw calls are dropped, and the rollups must
still give the answers the raw calls gave before the drop.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from app import analytics
from app.ledger import Ledger, dimensions
from app.ledger.reprice import Repricer, RepriceScope
from app.ledger.rollup_tables import COMPANY, DAY
from app.models import LlmCall, ModelPrice
from app.partitions import drop_partitions_before
from app.pricing.catalog import TokenPrices
from app.pricing.overrides import Override, set_override
from app.records import NewCall
from tests.rollups import rollup_differences

DAY0 = date(2026, 1, 20)
DAYS = 45  # to 2026-03-05: January's end, all of February, March's start
TODAY = date(2026, 3, 3)  # days after it cost nothing to subtract (app/analytics/spans.py)
COMPANIES = ["prop-a", "prop-b"]
# (provider, model as sent): gpt-4o under two spellings, Claude under two, an unknown model under two.
SPELLINGS = [("openai", "gpt-4o"), ("openai", "gpt-4o-2024-08-06"), ("openai", "o3"),
             ("anthropic", "claude-sonnet-4-5-20250929"), ("claude", "claude-sonnet-4-5"),
             ("acme", "acme-prop-1"), ("Acme", "ACME-Prop-1")]
KEYS = {"model": "canonical_model", "provider": "canonical_provider", "user": "user_id",
        "assistant": "assistant_id", "endpoint": "endpoint", "project": "metadata ->> 'project'"}

calls = st.builds(
    lambda spelling, **fields: NewCall(provider=spelling[0], model=spelling[1], **fields),
    spelling=st.sampled_from(SPELLINGS),
    input_tokens=st.integers(0, 300_000),
    output_tokens=st.integers(0, 5_000),
    company_id=st.sampled_from(COMPANIES),
    user_id=st.sampled_from(["u1", "u2", "u3", None]),
    assistant_id=st.sampled_from(["as1", "as2", None]),
    assistant_name=st.sampled_from(["Support", "Helper", None]),
    endpoint=st.sampled_from(["/chat", "/embed", None]),
    success=st.booleans(),
    timestamp=st.builds(lambda d, s: datetime.combine(DAY0, datetime.min.time(), tzinfo=UTC)
                        + timedelta(days=d, seconds=s), st.integers(0, DAYS - 1), st.integers(0, 86_399)),
    request_id=st.one_of(st.none(), st.sampled_from([f"r{n}" for n in range(6)])),
    metadata=st.sampled_from([{}, {"project": "p1"}, {"project": "p2", "team": "x"}, {"project": 7}]),
)
traffic = st.lists(st.lists(calls, min_size=1, max_size=15), min_size=1, max_size=5)  # batches
ranges = st.lists(st.tuples(st.integers(0, DAYS - 1), st.integers(0, DAYS - 1)), min_size=2, max_size=3)


def day_start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def raw_groups(session, column: str | None, start: date | None, end: date | None, **where) -> dict:
    """Raw sums (cost, tokens, calls, failures, unpriced) per value of `column` (None: one group)."""
    key = {"day": "(timezone('UTC', timestamp))::date::text", None: "NULL::text"}.get(column, column)
    conditions = ["(CAST(:start AS timestamptz) IS NULL OR timestamp >= :start)",
                  "(CAST(:end AS timestamptz) IS NULL OR timestamp < :end)"]
    conditions += [f"{name} = :{name}" for name in where]
    rows = session.execute(text(
        f"SELECT {key}, coalesce(sum(total_cost), 0), sum(total_tokens), count(*), "
        f"count(*) FILTER (WHERE NOT success), count(*) FILTER (WHERE price_id IS NULL) FROM llm_call_log "
        f"WHERE {' AND '.join(conditions)} GROUP BY 1"),
        {"start": day_start(start) if start else None, "end": day_start(end + timedelta(days=1)) if end else None,
         **where})
    return {k: tuple(rest) for k, *rest in rows}


def as_tuple(totals) -> tuple:
    return (totals.cost, totals.tokens, totals.calls, totals.failures, totals.unpriced)


def ranked(groups: dict) -> list:
    """Keys in the analytics order: most cost, then most calls, then by key (NULL last)."""
    return sorted(groups, key=lambda k: (-groups[k][0], -groups[k][2], k is None, k or ""))


def total_of(groups: dict) -> tuple:
    return tuple(sum((g[i] for g in groups.values()), Decimal(0) if i == 0 else 0) for i in range(5))


def check_top(entries: dict | list, other, groups: dict, top: int) -> None:
    """The top entries are the raw top `top` keys with their sums; other is the rest, exactly."""
    if isinstance(entries, dict):
        chosen = {k: as_tuple(v) for k, v in entries.items()}
        order = list(entries)
    else:
        chosen = {e.key: as_tuple(e) for e in entries}
        order = [e.key for e in entries]
    expected = ranked(groups)[:top]
    assert order == expected
    assert chosen == {k: groups[k] for k in expected}
    rest = {k: v for k, v in groups.items() if k not in expected}
    assert as_tuple(other) == total_of(rest) and other.keys == len(rest)


def answers(session, spans: list[tuple[date, date]], top: int) -> dict:
    """Every question's answer, in comparable form (for before/after a partition drop)."""
    found: dict = {}
    for start, end in spans:
        for company in (None, *COMPANIES):
            summary = analytics.summary(session, start, end, company_id=company, top=top, today=TODAY)
            found[("summary", start, end, company)] = (
                as_tuple(summary.totals), {k: as_tuple(v) for k, v in summary.by_model.items()},
                [as_tuple(e) for e in summary.by_user], {k: as_tuple(v) for k, v in summary.other.items()},
                as_tuple(summary.previous.totals))
        for by in analytics.REPORT_KEYS:
            rows, totals = analytics.report(session, start, end, by, today=TODAY)
            found[("report", by, start, end)] = ([(r.key, as_tuple(r)) for r in rows.entries], as_tuple(totals))
        page = analytics.breakdown(session, "project", start, end, limit=10, today=TODAY)
        found[("project", start, end)] = [(e.key, as_tuple(e)) for e in page.entries]
        found[("user", start, end)] = analytics.user_model_costs(session, "u1", start, end, today=TODAY)
    return found


def check_everything(session, spans: list[tuple[date, date]], top: int) -> None:
    assert rollup_differences(session) == {}
    for start, end in spans:
        for company in (None, *COMPANIES):
            where = {"company_id": company} if company else {}
            summary = analytics.summary(session, start, end, company_id=company, top=top, today=TODAY)
            by_model = raw_groups(session, "canonical_model", start, end, **where)
            assert as_tuple(summary.totals) == total_of(by_model)
            check_top(summary.by_model, summary.other["byModel"], by_model, top)
            check_top(summary.by_provider, summary.other["byProvider"],
                      raw_groups(session, "canonical_provider", start, end, **where), top)
            check_top(summary.by_user, summary.other["byUser"], raw_groups(session, "user_id", start, end, **where),
                      top)
            check_top(summary.by_assistant, summary.other["byAssistant"],
                      raw_groups(session, "assistant_id", start, end, **where), top)
            length = end - start + timedelta(days=1)
            assert as_tuple(summary.previous.totals) == total_of(
                raw_groups(session, None, start - length, start - timedelta(days=1), **where))
            days = {d.date.isoformat(): (d.cost, d.tokens, d.calls, d.failures, d.unpriced)
                    for d in analytics.daily(session, start, end, company_id=company) if d.calls}
            assert days == raw_groups(session, "day", start, end, **where)
        for by, column in KEYS.items():
            groups = raw_groups(session, column, start, end)
            if by in analytics.REPORT_KEYS:
                rows, totals = analytics.report(session, start, end, by, today=TODAY)
                assert [(r.key, as_tuple(r)) for r in rows.entries] == [(k, groups[k]) for k in ranked(groups)]
                assert as_tuple(totals) == total_of(groups)
            pages = []
            for page in range(1, 10):
                found = analytics.breakdown(session, by, start, end, page=page, limit=2, sort="calls", today=TODAY)
                assert found.keys == len(groups)
                pages += [(e.key, as_tuple(e)) for e in found.entries]
            by_calls = sorted(groups, key=lambda k: (-groups[k][2], -groups[k][0], k is None, k or ""))
            assert pages == [(k, groups[k]) for k in by_calls]
        days = {r.key: as_tuple(r) for r in analytics.report(session, start, end, "day", today=TODAY)[0].entries}
        assert days == raw_groups(session, "day", start, end)
        user = {m.model: (m.total_cost, m.total_tokens, m.calls, m.unpriced_calls)
                for m in analytics.user_model_costs(session, "u1", start, end, today=TODAY)}
        assert user == {k: (v[0], v[1], v[2], v[4]) for k, v in
                        raw_groups(session, "canonical_model", start, end, user_id="u1").items()}
        assistant = analytics.assistant_breakdown(session, "as1", start, end, top=top, today=TODAY)
        if assistant is not None:
            check_top(assistant.by_model, assistant.other["byModel"],
                      raw_groups(session, "canonical_model", start, end, assistant_id="as1"), top)
            check_top(assistant.by_user, assistant.other["byUser"],
                      raw_groups(session, "user_id", start, end, assistant_id="as1"), top)
        model = analytics.model_breakdown(session, "claude-sonnet-4-5-20250929", start, end, top=top, today=TODAY)
        if model is not None:
            assert model.model == "claude-sonnet-4-5"
            check_top(model.by_user, model.other["byUser"],
                      raw_groups(session, "user_id", start, end, canonical_model="claude-sonnet-4-5"), top)
            check_top(model.by_assistant, model.other["byAssistant"],
                      raw_groups(session, "assistant_id", start, end, canonical_model="claude-sonnet-4-5"), top)
        # The records count: exact by index up to its limit, then from the rollup that has the filters.
        for filters in (analytics.CallFilters(start=start, end=end, company_id="prop-a"),
                        analytics.CallFilters(start=start, end=end, model="ACME-prop-1", success=False),
                        analytics.CallFilters(start=start, end=end, user_id="u2", assistant_id="as2")):
            where = {"company_id": filters.company_id, "user_id": filters.user_id,
                     "assistant_id": filters.assistant_id, "success": filters.success,
                     "canonical_model": "acme-prop-1" if filters.model else None}
            raw = total_of(raw_groups(session, None, start, end, **{k: v for k, v in where.items() if v is not None}))
            page = analytics.list_calls(session, filters, 1, 2, count_exactly_up_to=1, today=TODAY)
            assert (page.total, page.total_exact) == (raw[2], True)
            assert [r.id for r in page.records] == session.scalars(
                select(LlmCall.id).where(*analytics._call_conditions(session, filters))
                .order_by(LlmCall.timestamp.desc(), LlmCall.id.desc()).limit(2)).all()
    # The oldest edge early in its hour (subtracted), late in it (added), and on the hour.
    for now in (datetime(2026, 2, 9, 13, 17, 5, tzinfo=UTC), datetime(2026, 2, 27, 13, 47, 5, tzinfo=UTC),
                datetime(2026, 3, 6, 0, 0, 0, tzinfo=UTC)):
        for company in (None, "prop-b"):
            found = analytics.rolling_total(session, now, company_id=company)
            raw = session.execute(text(
                "SELECT coalesce(sum(total_cost), 0), count(*) FROM llm_call_log "
                "WHERE timestamp > :low AND timestamp <= :now AND (CAST(:c AS text) IS NULL OR company_id = :c)"),
                {"low": now - timedelta(days=30), "now": now, "c": company}).one()
            assert (found.cost, found.calls) == tuple(raw)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(batches=traffic, picked=ranges, top=st.integers(0, 3))
def test_analytics_equal_raw_group_by(session, batches, picked, top):
    spans = [(DAY0 + timedelta(days=min(a, b)), DAY0 + timedelta(days=max(a, b))) for a, b in picked]
    spans += [(date(2026, 2, 1), date(2026, 2, 28)), (date(2026, 1, 31), date(2026, 3, 1))]
    nested = session.begin_nested()
    try:
        assert session.scalar(select(func.count()).select_from(COMPANY.model(DAY))) == 0
        stored_keys: dict[tuple, int] = {}
        for number, batch in enumerate(batches):
            if number == len(batches) // 2:  # "project" becomes a dimension mid-way: counted once either way
                dimensions.promote(session, "project")
            for result in Ledger(session).record(batch):
                if result.call.request_id:
                    key = (result.call.company_id, result.call.request_id)
                    assert stored_keys.setdefault(key, result.call.id) == result.call.id  # never doubled
            if number == len(batches) // 2:
                for _ in dimensions.backfill(session, "project", today=TODAY):
                    pass
        check_everything(session, spans, top)

        # A price appears for the unknown model, and a company negotiates a rate: reprice all.
        session.add(ModelPrice(provider="acme", model="acme-prop-1", valid_from=datetime(2026, 2, 4, tzinfo=UTC),
                               input_per_mtok=Decimal("0.7"), output_per_mtok=Decimal("2.1"), source="test"))
        set_override(session, Override(provider="openai", model="gpt-4o", company_id="prop-b",
                                       valid_from=datetime(2026, 2, 6, tzinfo=UTC),
                                       prices=TokenPrices(input_per_mtok=Decimal("1"), output_per_mtok=Decimal("3"))))
        session.flush()
        Repricer(session, RepriceScope(include_priced=True), batch_size=7).run()
        check_everything(session, spans, top)
        assert Repricer(session, RepriceScope(include_priced=True)).run().changed == 0  # idempotent

        # January's raw calls are dropped: the rollups keep answering as the raw calls did.
        before = answers(session, spans, top)
        drop_partitions_before(session, date(2026, 2, 1))
        assert session.scalar(select(func.count()).where(LlmCall.timestamp < day_start(date(2026, 2, 1)))) == 0
        assert answers(session, spans, top) == before
        kept = [(max(start, date(2026, 2, 1)), end) for start, end in spans if end >= date(2026, 2, 1)]
        for start, end in kept:
            raw = total_of(raw_groups(session, None, start, end, company_id="prop-a"))
            page = analytics.list_calls(session, analytics.CallFilters(start=start, end=end, company_id="prop-a"),
                                        1, 1, count_exactly_up_to=0, today=TODAY)
            assert (page.total, page.total_exact) == (raw[2], True)  # the rollup, over the days still raw
    finally:
        nested.rollback()


def test_a_combination_no_rollup_has_is_counted_by_estimate(session):
    """Past the exact limit, user × model × assistant has no rollup: the total is the planner's
    estimate, and says so."""
    call = NewCall(provider="openai", model="gpt-4o", input_tokens=10, output_tokens=1, company_id="est",
                   user_id="u", assistant_id="a", timestamp=datetime(2026, 3, 2, tzinfo=UTC))
    Ledger(session).record([replace(call, request_id=f"e{n}") for n in range(3)])
    filters = analytics.CallFilters(user_id="u", assistant_id="a", model="gpt-4o", company_id="est")
    page = analytics.list_calls(session, filters, 1, 2, count_exactly_up_to=1)
    assert page.total_exact is False and page.total >= 1 and len(page.records) == 2
    exact = analytics.list_calls(session, filters, 1, 2)
    assert (exact.total, exact.total_exact) == (3, True)

