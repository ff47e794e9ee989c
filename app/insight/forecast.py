"""Forecast: what a month will have cost by its end, from what it has cost so far and the recent
rate of each weekday.

The method (README, "Insight"), chosen to be simple and robust to a heavy tail:

1. **Spent so far**: day rows from the month's first day to the day before the cut-off `now`, and
   today's part to `now` (the company's whole hours from the hour rollup and the rest of the
   current hour raw; narrowed to a user, assistant, model or endpoint, today's calls raw).
2. **A weekday profile**: the median cost of each weekday over the last :data:`HISTORY_WEEKS`
   weeks of whole days before `now` (from the first day with any cost, if later). Medians: one
   day's batch job or runaway loop does not move them.
3. **The recent level**: the median, over the last :data:`LEVEL_DAYS` days, of each day's cost
   divided by its weekday's median: growth (or decline) since the profile's middle, again robust
   to a single odd day.
4. **Forecast** = spent + each remaining day's weekday median × the level (today: the part of
   the day after `now`, in proportion to the clock). **Range**: the same with the level at the
   lower and upper quartiles of those daily ratios.

`now` is a parameter (the clock is the caller's): the backtest (bench/backtest.py) asks as of
past cut-offs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from statistics import median, quantiles

from sqlalchemy.orm import Session

from app import analytics
from app.analytics import CallFilters
from app.analytics.results import ZERO
from app.analytics.spans import month_end, month_start
from app.insight import queries
from app.insight.results import Forecast

HISTORY_WEEKS = 8
LEVEL_DAYS = 14
# What a forecast may be narrowed by: the name of the filter → CallFilters' field.
FILTERS = {"userId": "user_id", "assistantId": "assistant_id", "model": "model", "endpoint": "endpoint"}
ESTIMATE = Decimal("0.000001")  # estimates are rounded to a millionth of a dollar
METHOD = (f"weekday medians of the last {HISTORY_WEEKS} weeks × the median ratio of the last {LEVEL_DAYS} days "
          "to them; range: that ratio's quartiles")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def forecast(session: Session, month: date, now: datetime, company_id: str | None = None, *,
             filter: tuple[str, str] | None = None) -> Forecast:  # noqa: A002 (the API's word)
    """Spend of `month` (any day of it) to `now`, and its forecast month-end total and range.
    `filter`: (one of :data:`FILTERS`, value), to forecast that user's, assistant's, model's or
    endpoint's spend only."""
    first, last = month_start(month), month_end(month)
    cut = min(max(now.astimezone(UTC), _day_start(first)), _day_start(last + timedelta(days=1)))
    today = cut.date()
    filters = CallFilters(company_id=company_id, **({FILTERS[filter[0]]: filter[1]} if filter else {}))
    where = analytics.rollup_where(session, filters)
    history_first = min(today - timedelta(weeks=HISTORY_WEEKS), first)
    costs = queries.daily_costs(session, where, history_first, today - timedelta(days=1))
    spent = sum((cost for day, cost in costs.items() if day >= first), ZERO)
    if cut > _day_start(today):
        spent += queries.cost_between(session, where, _day_start(today), cut)

    history = _history(costs, today)
    profile = _weekday_medians(history)
    ratios = [cost / profile[day.weekday()] for day, cost in history[-LEVEL_DAYS:] if profile[day.weekday()]]
    level = median(ratios) if ratios else Decimal(1)
    low_level, _, high_level = quantiles(ratios, n=4) if len(ratios) > 1 else (level, level, level)

    remaining_days: list[tuple[date, Decimal]] = []  # (day, the share of it still to come)
    if today <= last:
        elapsed = Decimal((cut - _day_start(today)).total_seconds()) / 86_400
        remaining_days.append((today, 1 - elapsed))
        remaining_days += [(today + timedelta(days=n), Decimal(1)) for n in range(1, (last - today).days + 1)]
    ahead = sum((profile[day.weekday()] * part for day, part in remaining_days), ZERO)

    def total(at: Decimal) -> Decimal:
        return (spent + ahead * at).quantize(ESTIMATE)

    return Forecast(month=first, now=cut, filter=filter, spent=spent, forecast=total(level),
                    low=min(total(low_level), total(level)), high=max(total(high_level), total(level)),
                    daily_rates=tuple((profile[w] * level).quantize(ESTIMATE) for w in range(7)),
                    history_days=len(history), method=METHOD)


def _history(costs: dict[date, Decimal], today: date) -> list[tuple[date, Decimal]]:
    """The days of the last HISTORY_WEEKS weeks before `today`, zero-filled, from the first with a cost."""
    days = [today - timedelta(days=n) for n in range(HISTORY_WEEKS * 7, 0, -1)]
    active = [day for day in days if costs.get(day)]
    return [(day, costs.get(day, ZERO)) for day in days if active and day >= active[0]]


def _weekday_medians(history: list[tuple[date, Decimal]]) -> list[Decimal]:
    """The median cost of each weekday (Monday first); a weekday not yet seen: the median of all days."""
    overall = median([cost for _, cost in history]) if history else ZERO
    by_weekday: list[list[Decimal]] = [[] for _ in range(7)]
    for day, cost in history:
        by_weekday[day.weekday()].append(cost)
    return [median(costs) if costs else overall for costs in by_weekday]
