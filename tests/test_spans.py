"""Which month and day rows make up a date range (app/analytics/spans.py): whole months from month
rows, the edges from whichever side reads fewer day rows, and always exactly the range."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.analytics.spans import Span, month_end, plan
from app.ledger.rollup_tables import DAY, MONTH

TODAY = date(2026, 12, 2)


def days_of(spans: list[Span], first: date, last: date) -> dict[date, int]:
    """How many times each day of [first, last] is counted by the signed spans."""
    counted: dict[date, int] = {}
    day = first
    while day <= last:
        for span in spans:
            if span.grain is MONTH:
                inside = ((span.first is None or day.replace(day=1) >= span.first)
                          and (span.last is None or day.replace(day=1) <= span.last))
            else:
                inside = (span.first is None or day >= span.first) and (span.last is None or day <= span.last)
            if inside:
                counted[day] = counted.get(day, 0) + span.sign
        day += timedelta(days=1)
    return counted


def show(spans: list[Span]) -> list[tuple]:
    return [(s.grain.name, s.first, s.last, s.sign) for s in spans]


@pytest.mark.parametrize(("start", "end", "expected"), [
    # a calendar month: its month rows only
    (date(2026, 11, 1), date(2026, 11, 30), [("month", date(2026, 11, 1), date(2026, 11, 1), 1)]),
    # the last 30 days: last month less two days, this month's two days
    (date(2026, 11, 3), date(2026, 12, 2), [("month", date(2026, 11, 1), date(2026, 11, 1), 1),
                                            ("day", date(2026, 11, 1), date(2026, 11, 2), -1),
                                            ("day", date(2026, 12, 1), date(2026, 12, 2), 1)]),
    # half of two months each: days are the cheaper side
    (date(2026, 9, 16), date(2026, 10, 15), [("day", date(2026, 9, 16), date(2026, 10, 15), 1)]),
    # this whole month, of which days to come are subtracted (they are empty: it costs nothing)
    (date(2026, 12, 1), date(2026, 12, 31), [("month", date(2026, 12, 1), date(2026, 12, 1), 1)]),
    # everything
    (None, None, [("month", None, None, 1)]),
    # up to a mid-month day
    (None, date(2026, 10, 15), [("month", None, date(2026, 9, 1), 1), ("day", date(2026, 10, 1), date(2026, 10, 15), 1)]),
])
def test_plans(start, end, expected):
    assert show(plan(start, end, TODAY)) == expected


@given(a=st.dates(date(2024, 1, 1), date(2027, 3, 1)), b=st.dates(date(2024, 1, 1), date(2027, 3, 1)),
       today=st.dates(date(2025, 1, 1), date(2027, 1, 1)))
def test_every_day_of_the_range_counts_once_and_no_other(a, b, today):
    start, end = min(a, b), max(a, b)
    spans = plan(start, end, today)
    around = days_of(spans, start.replace(day=1) - timedelta(days=40), month_end(end) + timedelta(days=40))
    assert {day: n for day, n in around.items() if n} == {start + timedelta(days=k): 1
                                                         for k in range((end - start).days + 1)}


@given(a=st.dates(date(2024, 1, 1), date(2027, 3, 1)), b=st.dates(date(2024, 1, 1), date(2027, 3, 1)))
def test_edges_read_at_most_about_half_a_month_of_days_each(a, b):
    start, end = min(a, b), max(a, b)
    days = sum((s.last - s.first).days + 1 for s in plan(start, end, date(2030, 1, 1)) if s.grain is DAY)
    assert days <= 2 * 16 + 1
