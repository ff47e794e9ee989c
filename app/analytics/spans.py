"""Which rollup rows make up a date range: whole months from the month rows, the rest from day rows.

A range of inclusive UTC days is read as a signed sum of spans. A month the range covers whole
is one month row per key. A month it covers in part is read from whichever side is cheaper: the
days it covers (added), or the whole month (added) minus the days it leaves out (subtracted).
Days after `today` hold no rows (bar the hour of clock skew a call may carry), so they cost
nothing to subtract: "the last 30 days" is the previous month less a few days plus this month
less days that have not happened yet. At most about half a month of day rows is read at each
edge, whatever the range's length; sums stay exact because rollup measures add up and month
rows are the sums of their day rows.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from app.ledger.rollup_tables import DAY, MONTH, Grain


@dataclass(frozen=True)
class Span:
    grain: Grain  # DAY or MONTH
    first: date | None  # first bucket (a day, or the first day of a month); None: unbounded
    last: date | None  # last bucket, inclusive; None: unbounded
    sign: int = 1  # +1: add these rows, -1: subtract them


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _next_month(day: date) -> date:
    return month_end(day) + timedelta(days=1)


def _days(first: date, last: date, today: date) -> int:
    """Day buckets in [first, last] that can hold rows (none after tomorrow)."""
    last = min(last, today + timedelta(days=1))
    return max(0, (last - first).days + 1)


def plan(start: date | None, end: date | None, today: date) -> list[Span]:
    """The spans whose signed sum is exactly the calls of [start, end] (None: unbounded)."""
    if start is not None and end is not None and end < start:
        return []
    if start is None and end is None:
        return [Span(MONTH, None, None)]
    spans: list[Span] = []
    whole_first: date | None = None if start is None else None  # first whole month of the current run
    whole_open = start is None  # a run of whole months that starts unbounded
    whole_last: date | None = None
    first_month = month_start(start) if start is not None else None
    last_month = month_start(end) if end is not None else None

    def close_run() -> None:
        nonlocal whole_first, whole_last, whole_open
        if whole_open or whole_first is not None:
            spans.append(Span(MONTH, None if whole_open else whole_first, whole_last))
        whole_first, whole_last, whole_open = None, None, False

    def partial(month: date, first: date, last: date) -> None:
        """Month `month` covered on [first, last] only."""
        nonlocal whole_first, whole_last
        # The cost of either side in day buckets that can hold rows (none after tomorrow).
        covered = _days(first, last, today)
        before = _days(month, first - timedelta(days=1), today) if first > month else 0
        after = _days(last + timedelta(days=1), month_end(month), today) if last < month_end(month) else 0
        if covered <= before + after + 1:  # +1: reading the month row costs about a day's rows
            close_run()
            spans.append(Span(DAY, first, last))
            return
        # the whole month, minus the days left out
        if not whole_open and whole_first is None:
            whole_first = month
        whole_last = month
        # Subtracted even when they should be empty (days to come): correctness never rests on the clock.
        if first > month:
            spans.append(Span(DAY, month, first - timedelta(days=1), -1))
        if last < month_end(month):
            spans.append(Span(DAY, last + timedelta(days=1), month_end(month), -1))

    if start is None:
        assert last_month is not None and end is not None
        if end == month_end(end):
            whole_last = last_month
        else:
            whole_last = _previous_month(last_month)
            partial(last_month, last_month, end)
        close_run()
        return _merged(spans)
    assert first_month is not None
    month = first_month
    while last_month is None or month <= last_month:
        first = max(start, month)
        last = month_end(month) if end is None else min(end, month_end(month))
        if first == month and last == month_end(month):
            if not whole_open and whole_first is None:
                whole_first = month
            whole_last = month
        else:
            partial(month, first, last)
        if end is None and month >= month_start(today + timedelta(days=1)):
            # an open end: the rest is the months from here on
            whole_last = None
            if whole_first is None:
                whole_first = month
            spans.append(Span(MONTH, whole_first, None))
            whole_first = None
            return _merged(spans)
        month = _next_month(month)
    close_run()
    return _merged(spans)


def _previous_month(month: date) -> date:
    return month_start(month - timedelta(days=1))


def _merged(spans: list[Span]) -> list[Span]:
    """Adjacent day spans of the same sign merged, month spans first (the order is irrelevant)."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.grain.name != "month", s.sign, s.first or date.min)):
        if (merged and merged[-1].grain is span.grain is DAY and merged[-1].sign == span.sign
                and merged[-1].last is not None and span.first is not None
                and merged[-1].last + timedelta(days=1) == span.first):
            merged[-1] = Span(DAY, merged[-1].first, span.last, span.sign)
        else:
            merged.append(span)
    return merged
