"""Property: every analytics answer equals the same question asked as a raw GROUP BY.

Hypothesis generates random traffic — late calls (out of order), retries (duplicate request
ids, within and across batches), failed calls, unknown models — ingests it through the real
ledger in random batches, then prices the unknown model and adds a company override and
reprices everything. After each step, the rollup-backed analytics must equal raw aggregates of
`llm_call_log`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from app import analytics
from app.ledger import Ledger
from app.ledger.rollup_tables import COMPANY, DAY
from app.models import LlmCall, ModelPrice
from app.pricing.catalog import TokenPrices
from app.pricing.overrides import Override, set_override
from app.ledger.reprice import Repricer, RepriceScope
from app.records import NewCall

DAY0 = date(2026, 3, 1)
DAYS = 10
FIRST, LAST = DAY0, DAY0 + timedelta(days=DAYS - 1)
COMPANIES = ["prop-a", "prop-b"]
MODELS = [("openai", "gpt-4o"), ("openai", "o3"), ("anthropic", "claude-sonnet-4-5"), ("acme", "acme-prop-1")]

calls = st.builds(
    NewCall,
    provider=st.just("x"),  # replaced with the model's provider below
    model=st.sampled_from([model for _, model in MODELS]),
    input_tokens=st.integers(0, 300_000),
    output_tokens=st.integers(0, 5_000),
    company_id=st.sampled_from(COMPANIES),
    user_id=st.sampled_from(["u1", "u2", None]),
    assistant_id=st.sampled_from(["as1", "as2", None]),
    assistant_name=st.sampled_from(["Support", "Helper", None]),
    endpoint=st.sampled_from(["/chat", "/embed", None]),
    success=st.booleans(),
    timestamp=st.builds(lambda d, s: datetime.combine(DAY0, datetime.min.time(), tzinfo=UTC)
                        + timedelta(days=d, seconds=s), st.integers(0, DAYS - 1), st.integers(0, 86_399)),
    request_id=st.one_of(st.none(), st.sampled_from([f"r{n}" for n in range(6)])),
)
traffic = st.lists(st.lists(calls, min_size=1, max_size=12), min_size=1, max_size=5)  # batches


def with_provider(call: NewCall) -> NewCall:
    from dataclasses import replace

    return replace(call, provider=dict((m, p) for p, m in MODELS)[call.model])


def raw_groups(session, key: str, start: date, end: date, company: str | None = None) -> dict:
    column = "(timezone('UTC', timestamp))::date" if key == "day" else key
    rows = session.execute(text(
        f"SELECT {column}, coalesce(sum(total_cost), 0), sum(total_tokens), count(*), "
        f"count(*) FILTER (WHERE NOT success), count(*) FILTER (WHERE price_id IS NULL) FROM llm_call_log "
        f"WHERE timestamp >= :start AND timestamp < :end AND (CAST(:company AS text) IS NULL OR company_id = :company) "
        f"GROUP BY 1"),
        {"start": datetime.combine(start, datetime.min.time(), tzinfo=UTC),
         "end": datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC), "company": company})
    return {(k.isoformat() if isinstance(k, date) else k): tuple(rest) for k, *rest in rows}


def as_tuple(totals) -> tuple:
    return (totals.cost, totals.tokens, totals.calls, totals.failures, totals.unpriced)


def check_everything(session) -> None:
    start, end = FIRST + timedelta(days=2), LAST - timedelta(days=1)
    for company in (None, *COMPANIES):
        summary = analytics.summary(session, start, end, company_id=company, top=100)
        raw = raw_groups(session, "model", start, end, company)
        assert {m: as_tuple(t) for m, t in summary.by_model.items()} == raw
        assert as_tuple(summary.totals) == tuple(
            sum(values[i] for values in raw.values()) if raw else (Decimal(0), 0, 0, 0, 0)[i] for i in range(5))
        assert {g.key: as_tuple(g) for g in summary.by_user} == raw_groups(session, "user_id", start, end, company)
        assert {g.key: as_tuple(g) for g in summary.by_assistant} == raw_groups(
            session, "assistant_id", start, end, company)
        days = {d.date.isoformat(): (d.cost, d.tokens, d.calls, d.failures)
                for d in analytics.daily(session, FIRST, LAST, company_id=company) if d.calls}
        assert days == {k: v[:4] for k, v in raw_groups(session, "day", FIRST, LAST, company).items()}
    for key, column in (("provider", "provider"), ("endpoint", "endpoint"), ("day", "day"), ("user", "user_id"),
                        ("assistant", "assistant_id"), ("model", "model")):
        report = {row.key: as_tuple(row) for row in analytics.report(session, FIRST, LAST, key)[0].entries}
        assert report == raw_groups(session, column, FIRST, LAST)
    user = {m.model: (m.total_cost, m.total_tokens) for m in analytics.user_model_costs(session, "u1", FIRST, LAST)}
    raw_user = session.execute(text(
        "SELECT model, coalesce(sum(total_cost), 0), sum(total_tokens) FROM llm_call_log WHERE user_id = 'u1' "
        "GROUP BY model")).all()
    assert user == {model: (cost, tokens) for model, cost, tokens in raw_user}
    # The oldest edge early in its hour (subtracted), late in it (added), and on the hour.
    for now in (datetime(2026, 3, 9, 13, 17, 5, tzinfo=UTC), datetime(2026, 3, 9, 13, 47, 5, tzinfo=UTC),
                datetime(2026, 3, 31, 0, 0, 0, tzinfo=UTC)):
        raw_total = session.scalar(select(func.coalesce(func.sum(LlmCall.total_cost), 0)).where(
            LlmCall.timestamp > now - timedelta(days=30), LlmCall.timestamp <= now))
        assert analytics.rolling_total(session, now, days=3).cost == session.scalar(select(func.coalesce(
            func.sum(LlmCall.total_cost), 0)).where(LlmCall.timestamp > now - timedelta(days=3),
                                                    LlmCall.timestamp <= now))
        assert analytics.rolling_total(session, now).cost == raw_total
    page = analytics.list_calls(session, analytics.CallFilters(start=FIRST, end=LAST, company_id="prop-a"), 1, 5)
    assert page.total == session.scalar(select(func.count()).select_from(LlmCall).where(
        LlmCall.company_id == "prop-a"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=traffic)
def test_analytics_equal_raw_group_by(session, batches):
    nested = session.begin_nested()
    try:
        assert session.scalar(select(func.count()).select_from(COMPANY.model(DAY))) == 0
        stored_keys: dict[tuple, int] = {}
        for batch in batches:
            for result in Ledger(session).record([with_provider(call) for call in batch]):
                if result.call.request_id:
                    key = (result.call.company_id, result.call.request_id)
                    assert stored_keys.setdefault(key, result.call.id) == result.call.id  # never doubled
        check_everything(session)

        # A price appears for the unknown model, and a company negotiates a rate: reprice all.
        session.add(ModelPrice(provider="acme", model="acme-prop-1", valid_from=datetime(2026, 3, 4, tzinfo=UTC),
                               input_per_mtok=Decimal("0.7"), output_per_mtok=Decimal("2.1"), source="test"))
        set_override(session, Override(provider="openai", model="gpt-4o", company_id="prop-b",
                                       valid_from=datetime(2026, 3, 6, tzinfo=UTC),
                                       prices=TokenPrices(input_per_mtok=Decimal("1"), output_per_mtok=Decimal("3"))))
        session.flush()
        Repricer(session, RepriceScope(include_priced=True), batch_size=7).run()
        check_everything(session)
        assert Repricer(session, RepriceScope(include_priced=True)).run().changed == 0  # idempotent
    finally:
        nested.rollback()
