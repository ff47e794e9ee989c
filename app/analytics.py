"""Every aggregation query over `llm_call_log`: who spent what, on which model, when.

Functions take a `Session` and return plain frozen dataclasses; ORM rows never leave this module.

- Money is exact `Decimal`. Unpriced calls have NULL costs: sums skip them (and are coalesced to
  0 when nothing is priced), and every total says how many calls were unpriced.
- A date range is inclusive UTC calendar days: ``start 00:00 UTC <= timestamp < (end + 1 day)
  00:00 UTC``. Days are bucketed in UTC whatever the session's time zone.
- Every query is built from two helpers, :func:`_totals_columns` (what is summed) and
  :func:`_conditions` (which calls count), so that moving them to a daily rollup table later
  changes these helpers, not each report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Date, exists, func, not_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from app.models import LlmCall
from app.records import CallRecord

ZERO = Decimal(0)
PERCENT_QUANTUM = Decimal("0.01")


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Totals:
    cost: Decimal = ZERO
    tokens: int = 0
    calls: int = 0
    failures: int = 0
    unpriced: int = 0


@dataclass(frozen=True, kw_only=True)
class GroupTotals(Totals):
    """Totals of the calls sharing one key (a user, model, provider, endpoint, day …)."""

    key: str | None


@dataclass(frozen=True, kw_only=True)
class AssistantTotals(GroupTotals):
    """Totals of one assistant; `name` is the most recent non-null name it was reported with."""

    name: str | None


@dataclass(frozen=True)
class Change:
    cost: Decimal
    cost_percent: Decimal | None  # None when the previous period cost nothing
    tokens: int
    calls: int


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    totals: Totals


@dataclass(frozen=True)
class Summary:
    start: date
    end: date
    totals: Totals
    by_model: dict[str, Totals]
    by_provider: dict[str, Totals]
    by_assistant: list[AssistantTotals]
    by_user: list[GroupTotals]
    previous: Period
    change: Change


@dataclass(frozen=True)
class DayTotal:
    date: date
    cost: Decimal
    tokens: int
    calls: int
    failures: int


@dataclass(frozen=True)
class CallFilters:
    """Which calls count; None means "any". Dates are inclusive UTC days."""

    start: date | None = None
    end: date | None = None
    company_id: str | None = None
    user_id: str | None = None
    assistant_id: str | None = None
    model: str | None = None
    provider: str | None = None
    success: bool | None = None


@dataclass(frozen=True)
class CallPage:
    records: list[CallRecord]
    page: int
    limit: int
    total: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.limit)


@dataclass(frozen=True)
class AssistantBreakdown:
    assistant_id: str
    name: str | None
    start: date | None
    end: date | None
    totals: Totals
    by_model: dict[str, Totals]
    by_user: list[GroupTotals]


@dataclass(frozen=True)
class ModelBreakdown:
    model: str
    start: date | None
    end: date | None
    totals: Totals
    by_provider: dict[str, Totals]
    by_assistant: list[AssistantTotals]
    by_user: list[GroupTotals]


@dataclass(frozen=True)
class ModelCost:
    model: str
    total_cost: Decimal
    total_tokens: int


ReportRow = GroupTotals


# ---------------------------------------------------------------------------------------------
# Query building blocks


def _cost_sum() -> ColumnElement[Decimal]:
    """Exact sum of the priced calls' costs; 0, not NULL, when none is priced."""
    return func.coalesce(func.sum(LlmCall.total_cost), ZERO).label("cost")


def _totals_columns() -> list[ColumnElement[Any]]:
    """cost, tokens, calls, failures, unpriced — the fields of `Totals`."""
    return [
        _cost_sum(),
        func.coalesce(func.sum(LlmCall.total_tokens), 0).cast(BigInteger).label("tokens"),
        func.count().label("calls"),
        func.count().filter(not_(LlmCall.success)).label("failures"),
        func.count().filter(LlmCall.price_id.is_(None)).label("unpriced"),
    ]


def _totals_of(row: Any) -> dict[str, Any]:
    return {"cost": row.cost, "tokens": row.tokens, "calls": row.calls, "failures": row.failures,
            "unpriced": row.unpriced}


def _day_start(day: date) -> datetime:
    """00:00 UTC of `day`."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def _conditions(filters: CallFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.start is not None:
        conditions.append(LlmCall.timestamp >= _day_start(filters.start))
    if filters.end is not None:
        conditions.append(LlmCall.timestamp < _day_start(filters.end + timedelta(days=1)))
    for column, value in ((LlmCall.company_id, filters.company_id), (LlmCall.user_id, filters.user_id),
                          (LlmCall.assistant_id, filters.assistant_id), (LlmCall.model, filters.model),
                          (LlmCall.provider, filters.provider), (LlmCall.success, filters.success)):
        if value is not None:
            conditions.append(column == value)
    return conditions


# The UTC calendar day of a call, whatever the session's TimeZone.
_DAY = func.timezone("UTC", LlmCall.timestamp).cast(Date)

_GROUP_KEYS: dict[str, ColumnElement[Any]] = {
    "user": LlmCall.user_id,
    "model": LlmCall.model,
    "provider": LlmCall.provider,
    "assistant": LlmCall.assistant_id,
    "endpoint": LlmCall.endpoint,
    "day": _DAY,
}
REPORT_KEYS = tuple(_GROUP_KEYS)


def _overall(session: Session, filters: CallFilters) -> Totals:
    row = session.execute(select(*_totals_columns()).where(*_conditions(filters))).one()
    return Totals(**_totals_of(row))


def _grouped(session: Session, by: str, filters: CallFilters) -> list[GroupTotals]:
    """Totals per key, most expensive first (ties: more calls first, then by key)."""
    key = _GROUP_KEYS[by].label("key")
    query = select(key, *_totals_columns()).where(*_conditions(filters)).group_by(key)
    if by == "day":
        query = query.order_by(key)
    else:
        columns = query.selected_columns
        query = query.order_by(columns["cost"].desc(), columns["calls"].desc(), key.asc().nulls_last())
    return [GroupTotals(key=_key(row.key), **_totals_of(row)) for row in session.execute(query)]


def _key(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


def _keyed(groups: Sequence[GroupTotals]) -> dict[str, Totals]:
    """By a key that is never NULL (model, provider), keeping the order."""
    return {group.key: Totals(**_totals_of(group)) for group in groups if group.key is not None}


def _with_names(session: Session, groups: Sequence[GroupTotals], company_id: str | None) -> list[AssistantTotals]:
    """Attach each assistant's most recent non-null name (over all time, not only the range)."""
    ids = [group.key for group in groups if group.key is not None]
    names: dict[str, str] = {}
    if ids:
        query = (select(LlmCall.assistant_id, LlmCall.assistant_name)
                 .where(LlmCall.assistant_id.in_(ids), LlmCall.assistant_name.is_not(None),
                        *_conditions(CallFilters(company_id=company_id)))
                 .ext(distinct_on(LlmCall.assistant_id))
                 .order_by(LlmCall.assistant_id, LlmCall.timestamp.desc(), LlmCall.id.desc()))
        names = dict(session.execute(query).all())
    return [AssistantTotals(key=group.key, name=names.get(group.key) if group.key else None,
                            **_totals_of(group)) for group in groups]


def _check_range(start: date, end: date) -> None:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")


def _exists(session: Session, filters: CallFilters) -> bool:
    return bool(session.scalar(select(exists().where(*_conditions(filters)))))


# ---------------------------------------------------------------------------------------------
# Reports


def summary(session: Session, start: date, end: date, company_id: str | None = None) -> Summary:
    """Totals and breakdowns of [start, end], and the change from the equal period just before."""
    _check_range(start, end)
    filters = CallFilters(start=start, end=end, company_id=company_id)
    totals = _overall(session, filters)
    length = end - start + timedelta(days=1)
    before = CallFilters(start=start - length, end=start - timedelta(days=1), company_id=company_id)
    previous = Period(start - length, before.end, _overall(session, before))
    return Summary(
        start=start, end=end, totals=totals,
        by_model=_keyed(_grouped(session, "model", filters)),
        by_provider=_keyed(_grouped(session, "provider", filters)),
        by_assistant=_with_names(session, _grouped(session, "assistant", filters), company_id),
        by_user=_grouped(session, "user", filters),
        previous=previous,
        change=_change(totals, previous.totals),
    )


def _change(now: Totals, before: Totals) -> Change:
    percent = None
    if before.cost:
        percent = ((now.cost - before.cost) * 100 / before.cost).quantize(PERCENT_QUANTUM, ROUND_HALF_EVEN)
    return Change(cost=now.cost - before.cost, cost_percent=percent, tokens=now.tokens - before.tokens,
                  calls=now.calls - before.calls)


def daily(session: Session, start: date, end: date, company_id: str | None = None) -> list[DayTotal]:
    """One entry per UTC day of [start, end], days without calls included as zeros."""
    _check_range(start, end)
    found = {group.key: group for group in
             _grouped(session, "day", CallFilters(start=start, end=end, company_id=company_id))}
    days = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        group = found.get(day.isoformat(), Totals())
        days.append(DayTotal(day, group.cost, group.tokens, group.calls, group.failures))
    return days


def list_calls(session: Session, filters: CallFilters, page: int, limit: int) -> CallPage:
    """One page of the calls matching `filters`, newest first."""
    conditions = _conditions(filters)
    total = session.scalar(select(func.count()).select_from(LlmCall).where(*conditions)) or 0
    rows = session.scalars(select(LlmCall).where(*conditions)
                           .order_by(LlmCall.timestamp.desc(), LlmCall.id.desc())
                           .limit(limit).offset((page - 1) * limit))
    return CallPage([CallRecord.from_row(row) for row in rows], page=page, limit=limit, total=total)


def assistant_breakdown(session: Session, assistant_id: str, start: date | None = None, end: date | None = None,
                        company_id: str | None = None) -> AssistantBreakdown | None:
    """Totals of one assistant in the range, by model and by user; None if it never made a call."""
    if not _exists(session, CallFilters(assistant_id=assistant_id, company_id=company_id)):
        return None
    filters = CallFilters(start=start, end=end, assistant_id=assistant_id, company_id=company_id)
    [named] = _with_names(session, [GroupTotals(key=assistant_id)], company_id)
    return AssistantBreakdown(
        assistant_id=assistant_id, name=named.name, start=start, end=end, totals=_overall(session, filters),
        by_model=_keyed(_grouped(session, "model", filters)), by_user=_grouped(session, "user", filters),
    )


def model_breakdown(session: Session, model: str, start: date | None = None, end: date | None = None,
                    company_id: str | None = None) -> ModelBreakdown | None:
    """Totals of one model in the range, by provider, assistant and user; None if it was never called."""
    if not _exists(session, CallFilters(model=model, company_id=company_id)):
        return None
    filters = CallFilters(start=start, end=end, model=model, company_id=company_id)
    return ModelBreakdown(
        model=model, start=start, end=end, totals=_overall(session, filters),
        by_provider=_keyed(_grouped(session, "provider", filters)),
        by_assistant=_with_names(session, _grouped(session, "assistant", filters), company_id),
        by_user=_grouped(session, "user", filters),
    )


def user_model_costs(session: Session, user_id: str, start: date, end: date) -> list[ModelCost]:
    """What one user spent on each model in [start, end], most expensive first."""
    groups = _grouped(session, "model", CallFilters(start=start, end=end, user_id=user_id))
    return [ModelCost(model=group.key, total_cost=group.cost, total_tokens=group.tokens) for group in groups]


def rolling_total(session: Session, now: datetime, days: int = 30) -> Decimal:
    """Cost of the calls in the `days` before `now`, to the second: ``now - days < timestamp <= now``.

    `now` is a parameter, not SQL ``now()``: the caller owns the clock (and a transaction's
    ``now()`` is frozen at its start).
    """
    query = select(_cost_sum()).where(LlmCall.timestamp > now - timedelta(days=days),
                                               LlmCall.timestamp <= now)
    return session.scalar(query)


def report(session: Session, since: date, until: date, by: str, company_id: str | None = None) -> list[ReportRow]:
    """Totals per `by` key (one of `REPORT_KEYS`) over [since, until]; days in order, others by cost."""
    if by not in _GROUP_KEYS:
        raise ValueError(f"cannot report by {by!r}; choose one of {', '.join(REPORT_KEYS)}")
    return _grouped(session, by, CallFilters(start=since, end=until, company_id=company_id))
