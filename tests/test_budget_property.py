"""Property: a budget's spend in each of its periods equals the raw sum of its calls in that
period — whatever the calls' timestamps (around DST changes, month and week ends, in zones with
half-hour offsets and DST at midnight), the order they arrive in (late calls), how they are batched
(one call, an array, a COPYed batch), and after unpriced calls are priced by repricing.

The expected periods are computed here with `zoneinfo`, independently of PostgreSQL's `date_trunc`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from app.budgets import BudgetSpec, create_budget
from app.ledger import Ledger
from app.ledger.reprice import Repricer, RepriceScope
from app.models import Budget, BudgetSpend, LlmCall, ModelPrice
from app.records import NewCall

# (period, zone, narrowing) of the budgets every example checks.
BUDGETS = [
    ("month", "Europe/Berlin", {}),
    ("week", "America/New_York", {}),
    ("day", "Asia/Kolkata", {}),            # +05:30
    ("day", "Australia/Lord_Howe", {}),     # DST moves by 30 minutes
    ("day", "America/Santiago", {}),        # DST changes at midnight
    ("month", "UTC", {"user_id": "u1"}),
    ("week", "Europe/London", {"model": "gpt-4o-mini"}),
    ("day", "Pacific/Apia", {"assistant_id": "a2", "endpoint": "/chat"}),
]
# Instants where calendars turn awkwardly (UTC): DST changes, month and ISO-week ends.
ANCHORS = [datetime(2026, *parts, tzinfo=UTC) for parts in [
    (3, 29, 1), (10, 25, 1),     # Europe's DST
    (3, 8, 7), (11, 1, 6),       # the United States'
    (4, 4, 15), (10, 3, 15),     # Lord Howe's (02:00 local)
    (4, 5, 3), (9, 6, 4),        # Santiago's (midnight)
    (2, 28, 23), (5, 31, 22),    # month ends
]]
MODELS = ["gpt-4o", "gpt-4o-mini"]


def period_start(moment: datetime, period: str, zone: str) -> datetime:
    tz = ZoneInfo(zone)
    day = moment.astimezone(tz).date()
    if period == "week":
        day -= timedelta(days=day.weekday())
    elif period == "month":
        day = day.replace(day=1)
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


calls_strategy = st.lists(st.tuples(
    st.sampled_from(ANCHORS), st.integers(-36 * 60, 36 * 60),  # an anchor, ± 36 h in minutes
    st.sampled_from(["u1", "u2", None]), st.sampled_from(["a1", "a2", None]), st.sampled_from(["/chat", None]),
    st.sampled_from([*MODELS, "unpriced"]), st.integers(0, 5_000), st.integers(0, 2_000),
), min_size=1, max_size=90)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=calls_strategy, batches=st.lists(st.integers(1, 80), min_size=1, max_size=6), reprice=st.booleans())
def test_budget_spend_equals_the_raw_sum_of_its_calls_in_every_period(session, calls, batches, reprice):
    company = f"prop-{uuid.uuid4().hex[:8]}"
    unknown = f"prop-model-{uuid.uuid4().hex[:8]}"  # no price until this example adds one
    budgets = {}
    for period, zone, narrowing in BUDGETS:
        budget, _ = create_budget(session, BudgetSpec(company_id=company, period=period, timezone=zone,
                                                      limit_usd=Decimal("0.05"), **narrowing))
        budgets[budget.id] = (period, zone, narrowing)
    # Counted from long before the calls (a budget counts from its current period on).
    session.execute(update(Budget).where(Budget.company_id == company).values(
        tracked_from=datetime(2020, 1, 1, tzinfo=UTC)))

    new = [NewCall(provider="prop" if model == "unpriced" else "openai",
                   model=unknown if model == "unpriced" else model, company_id=company, user_id=user,
                   assistant_id=assistant, endpoint=endpoint, input_tokens=tokens_in, output_tokens=tokens_out,
                   timestamp=anchor + timedelta(minutes=minutes))
           for anchor, minutes, user, assistant, endpoint, model, tokens_in, tokens_out in calls]
    ledger = Ledger(session)
    position = 0
    for size in batches * (len(new) // sum(batches) + 1):  # sizes up to 80: single, array and COPY statements
        if position >= len(new):
            break
        ledger.record(new[position:position + size])
        position += size
    if reprice:
        session.add(ModelPrice(provider="prop", model=unknown, valid_from=datetime(2020, 1, 1, tzinfo=UTC),
                               input_per_mtok=Decimal("1.5"), output_per_mtok=Decimal("6"), source="manual"))
        session.flush()
        Repricer(session, RepriceScope(company=company), batch_size=7).run()

    stored = session.execute(select(LlmCall).where(LlmCall.company_id == company)).scalars().all()
    assert len(stored) == len(new)
    for budget_id, (period, zone, narrowing) in budgets.items():
        expected: dict[datetime, list] = defaultdict(lambda: [Decimal(0), 0])
        for call in stored:
            values = {"user_id": call.user_id, "assistant_id": call.assistant_id, "endpoint": call.endpoint,
                      "model": call.canonical_model}
            if all(values[name] == value for name, value in narrowing.items()):
                totals = expected[period_start(call.timestamp, period, zone)]
                totals[0] += call.total_cost or 0
                totals[1] += 1
        actual = {row.period_start: [row.spent, row.calls] for row in session.scalars(
            select(BudgetSpend).where(BudgetSpend.budget_id == budget_id).execution_options(populate_existing=True))}
        assert actual == dict(expected), (period, zone, narrowing)
