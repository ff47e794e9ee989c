"""A budget's forecast: what it will have spent when its current period ends, whether (and when)
that crosses its limit.

- **Spent** is the budget's own, exact to the last committed call (`budget_spend`).
- **The rest of the period**, from now to ``resetsAt``, is costed at the daily rates of the insight
  forecast (:func:`app.insight.forecast.forecast`: weekday medians of the last 8 weeks × the
  recent level) of the calls the budget counts — the company's, or its one user's, assistant's,
  model's or endpoint's — each UTC day in proportion to the part of it still to come; the range
  scales those rates as the insight forecast's range does. A budget narrowed to more than one of
  those, or to an API key, has no such history in the rollups: its rest is its own run-rate so far
  in the period (spent ÷ time elapsed), and the range is that estimate.
- **Crossing**: with the rates above, the instant the limit would be reached (linear within a day),
  when that falls before the period ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from app.budgets import budget_states
from app.insight.forecast import forecast as insight_forecast
from app.models import Budget

ESTIMATE = Decimal("0.000001")
DAY = timedelta(days=1)
# A budget's narrowing field → the insight forecast's filter of the same calls.
_FILTERS = {"user_id": "userId", "assistant_id": "assistantId", "model": "model", "endpoint": "endpoint"}
RUN_RATE = "the budget's own run-rate so far in this period (spent ÷ time elapsed)"


@dataclass(frozen=True)
class BudgetForecast:
    budget_id: int
    period: str
    period_start: datetime
    resets_at: datetime
    now: datetime
    spent: Decimal
    limit: Decimal
    forecast: Decimal  # the spend expected when the period ends
    low: Decimal
    high: Decimal
    exceeds_at: datetime | None  # when the limit is expected to be reached (now, if already); None: not this period
    method: str

    @property
    def will_exceed(self) -> bool:
        return self.forecast >= self.limit


def budget_forecast(session: Session, budget: Budget, now: datetime) -> BudgetForecast:
    [state] = budget_states(session, budget.company_id, budget_id=budget.id, at=now)
    now = now.astimezone(UTC)
    narrowed = {field: getattr(budget, field) for field in ("user_id", "assistant_id", "model", "endpoint")
                if getattr(budget, field) is not None}
    if budget.api_key_id is None and len(narrowed) <= 1:
        [(field, value)] = narrowed.items() or [(None, None)]
        company = insight_forecast(session, now.date(), now, budget.company_id,
                                   filter=(_FILTERS[field], value) if field else None)
        rates = list(company.daily_rates)
        ahead = company.forecast - company.spent
        low, high = ((company.low - company.spent) / ahead, (company.high - company.spent) / ahead) if ahead else (1, 1)
        method = f"spent so far + the rest of the period at the daily rates of {company.method}"
    else:
        elapsed = Decimal((now - state.period_start).total_seconds())
        per_day = state.spent / elapsed * 86_400 if elapsed > 0 else Decimal(0)
        rates, low, high, method = [per_day] * 7, Decimal(1), Decimal(1), RUN_RATE

    expected = sum((rate * part for _, rate, part in _days(now, state.resets_at, rates)), Decimal(0))
    return BudgetForecast(
        budget_id=budget.id, period=state.period, period_start=state.period_start, resets_at=state.resets_at,
        now=now, spent=state.spent, limit=state.limit, forecast=(state.spent + expected).quantize(ESTIMATE),
        low=(state.spent + expected * min(low, 1)).quantize(ESTIMATE),
        high=(state.spent + expected * max(high, 1)).quantize(ESTIMATE),
        exceeds_at=_crossing(now, state.resets_at, rates, state.limit - state.spent), method=method)


def _days(start: datetime, end: datetime, rates: list[Decimal]):
    """(the piece's start, the day's rate, the share of a day) for each UTC day piece of [start, end)."""
    moment = start
    while moment < end:
        next_day = datetime.combine(moment.date() + DAY, time(), UTC)
        piece_end = min(next_day, end)
        yield moment, rates[moment.weekday()], Decimal((piece_end - moment).total_seconds()) / 86_400
        moment = piece_end


def _crossing(start: datetime, end: datetime, rates: list[Decimal], left: Decimal) -> datetime | None:
    if left <= 0:
        return start
    for moment, rate, part in _days(start, end, rates):
        cost = rate * part
        if cost >= left and rate > 0:
            return moment + timedelta(days=float(left / rate))
        left -= cost
    return None
