"""Every aggregation query: who spent what, on which model, when.

Functions take a `Session` and return plain frozen dataclasses; ORM rows never leave this module.

Whole-day questions (summaries, daily series, breakdowns, per-user costs, reports, page counts)
read the rollups, kept exactly in step with the call log (:mod:`app.ledger.rollups`): the smallest one
that has the dimensions asked for — per user (`llm_call_daily_user`), without users
(`llm_call_daily_model`), else the full grain (`llm_call_daily`).
The rolling 30-day total reads `llm_call_hourly`, made exact to the second with the raw calls of
at most half an hour at its oldest edge and of the rest of the current hour; that and the listing
of individual calls are the only reads of raw rows of `llm_call_log`.

- Money is exact `Decimal`. Unpriced calls have NULL costs: sums skip them (and are coalesced to
  0 when nothing is priced), and every total says how many calls were unpriced.
- A date range is inclusive UTC calendar days: ``start 00:00 UTC <= timestamp < (end + 1 day)
  00:00 UTC``. Days are bucketed in UTC whatever the session's time zone.
- Every rollup query is built from three helpers: :func:`_source` (which rollup),
  :func:`_totals_columns` (what is summed) and :func:`_conditions` (which days and groups count).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import ARRAY, BigInteger, ColumnElement, Text, case, exists, func, literal, not_, or_, select, true, tuple_
from sqlalchemy.orm import Session

from app.models import CallDaily, CallDailyModel, CallDailyUser, CallHourly, LlmCall
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


_SMALLEST_FIRST = (CallDailyUser, CallDailyModel, CallDaily)


def _source(filters: CallFilters, by: str | None = None) -> type:
    """The smallest daily rollup that has every dimension the question filters or groups by."""
    needed = {name for name in _FILTERED if getattr(filters, name) is not None}
    if by is not None:
        needed.add(_GROUP_KEYS[by])
    return next(table for table in _SMALLEST_FIRST if all(hasattr(table, name) for name in needed))


def _totals_columns(table: type) -> list[ColumnElement[Any]]:
    """cost, tokens, calls, failures, unpriced — the fields of `Totals`, summed over rollup rows."""
    def total(column: ColumnElement[Any], zero: Any = 0) -> ColumnElement[Any]:
        return func.coalesce(func.sum(column), zero)

    return [
        total(table.total_cost, ZERO).label("cost"),
        total(table.total_tokens).cast(BigInteger).label("tokens"),
        total(table.calls).cast(BigInteger).label("calls"),
        func.coalesce(func.sum(table.calls).filter(not_(table.success)), 0).cast(BigInteger).label("failures"),
        total(table.unpriced_calls).cast(BigInteger).label("unpriced"),
    ]


def _totals_of(row: Any) -> dict[str, Any]:
    return {"cost": row.cost, "tokens": row.tokens, "calls": row.calls, "failures": row.failures,
            "unpriced": row.unpriced}


def _day_start(day: date) -> datetime:
    """00:00 UTC of `day`."""
    return datetime.combine(day, time.min, tzinfo=UTC)


_FILTERED = ("company_id", "user_id", "assistant_id", "model", "provider", "success")


def _conditions(filters: CallFilters, table: type) -> list[ColumnElement[bool]]:
    """Which rows count, on a daily rollup (whole days) or on the call log (`LlmCall`)."""
    conditions: list[ColumnElement[bool]] = []
    if table is LlmCall:
        if filters.start is not None:
            conditions.append(LlmCall.timestamp >= _day_start(filters.start))
        if filters.end is not None:
            conditions.append(LlmCall.timestamp < _day_start(filters.end + timedelta(days=1)))
    else:
        if filters.start is not None:
            conditions.append(table.day >= filters.start)
        if filters.end is not None:
            conditions.append(table.day <= filters.end)
    for name in _FILTERED:
        value = getattr(filters, name)
        if value is not None:
            conditions.append(getattr(table, name) == value)
    return conditions


_GROUP_KEYS = {"user": "user_id", "model": "model", "provider": "provider", "assistant": "assistant_id",
               "endpoint": "endpoint", "day": "day"}
REPORT_KEYS = tuple(_GROUP_KEYS)


def _overall(session: Session, filters: CallFilters) -> Totals:
    table = _source(filters)
    row = session.execute(select(*_totals_columns(table)).where(*_conditions(filters, table))).one()
    return Totals(**_totals_of(row))


def _grouped(session: Session, by: str, filters: CallFilters) -> list[GroupTotals]:
    """Totals per key, most expensive first (ties: more calls first, then by key)."""
    table = _source(filters, by)
    key = getattr(table, _GROUP_KEYS[by]).label("key")
    query = select(key, *_totals_columns(table)).where(*_conditions(filters, table)).group_by(key)
    if by == "day":
        query = query.order_by(key)
    else:
        columns = query.selected_columns
        query = query.order_by(columns["cost"].desc(), columns["calls"].desc(), key.asc().nulls_last())
    return [GroupTotals(key=_key(row.key), **_totals_of(row)) for row in session.execute(query)]


def _totals_by(session: Session, filters: CallFilters, bys: Sequence[str]) -> tuple[Totals, dict[str, list[GroupTotals]]]:
    """Overall totals and, for each of `bys`, totals per key (ordered as :func:`_grouped` orders
    them): one ``GROUPING SETS`` query per rollup needed, not one query per breakdown."""
    by_source: dict[type, list[str]] = {_source(filters): []}
    for by in bys:
        by_source.setdefault(_source(filters, by), []).append(by)
    overall = Totals()
    groups: dict[str, list[GroupTotals]] = {by: [] for by in bys}
    for position, (table, names) in enumerate(by_source.items()):
        if position and not names:
            continue
        keys = [getattr(table, _GROUP_KEYS[by]) for by in names]
        sets = ([tuple_()] if position == 0 else []) + [tuple_(key) for key in keys]
        query = select(*_totals_columns(table)).where(*_conditions(filters, table))
        if keys:
            grouping = func.grouping(*keys).label("grouping")
            columns = query.selected_columns
            query = (query.add_columns(grouping, *keys).group_by(func.grouping_sets(*sets))
                     .order_by(grouping, columns["cost"].desc(), columns["calls"].desc(),
                               *(key.asc().nulls_last() for key in keys)))
        everything = 2 ** len(keys) - 1  # grouping() of the () set: every key aggregated over
        set_of = {everything - 2 ** (len(keys) - 1 - n): by for n, by in enumerate(names)}
        for row in session.execute(query):
            if not keys or row.grouping == everything:
                overall = Totals(**_totals_of(row))
            else:
                by = set_of[row.grouping]
                groups[by].append(GroupTotals(key=_key(getattr(row, _GROUP_KEYS[by])), **_totals_of(row)))
    return overall, groups


def _key(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


def _keyed(groups: Sequence[GroupTotals]) -> dict[str, Totals]:
    """By a key that is never NULL (model, provider), keeping the order."""
    return {group.key: Totals(**_totals_of(group)) for group in groups if group.key is not None}


def _with_names(session: Session, groups: Sequence[GroupTotals], company_id: str | None) -> list[AssistantTotals]:
    """Attach each assistant's most recent non-null name (over all days, not only the range)."""
    ids = [group.key for group in groups if group.key is not None]
    names: dict[str, str] = {}
    if ids:
        table = CallDailyModel
        wanted = func.unnest(literal(ids, ARRAY(Text()))).table_valued("assistant_id").render_derived()
        # Per assistant, the newest named row: a short backward scan of (assistant_id, day).
        latest = (select(table.assistant_name)
                  .where(table.assistant_id == wanted.c.assistant_id, table.assistant_name.is_not(None),
                         *_conditions(CallFilters(company_id=company_id), table))
                  .order_by(table.day.desc()).limit(1).lateral())
        names = dict(session.execute(select(wanted.c.assistant_id, latest.c.assistant_name)
                                     .select_from(wanted.join(latest, true()))).all())
    return [AssistantTotals(key=group.key, name=names.get(group.key) if group.key else None,
                            **_totals_of(group)) for group in groups]


def _check_range(start: date, end: date) -> None:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")


def _exists(session: Session, filters: CallFilters) -> bool:
    return bool(session.scalar(select(exists().where(*_conditions(filters, _source(filters))))))


# ---------------------------------------------------------------------------------------------
# Reports


def summary(session: Session, start: date, end: date, company_id: str | None = None) -> Summary:
    """Totals and breakdowns of [start, end], and the change from the equal period just before."""
    _check_range(start, end)
    filters = CallFilters(start=start, end=end, company_id=company_id)
    totals, groups = _totals_by(session, filters, ("model", "provider", "assistant", "user"))
    length = end - start + timedelta(days=1)
    before = CallFilters(start=start - length, end=start - timedelta(days=1), company_id=company_id)
    previous = Period(start - length, before.end, _overall(session, before))
    return Summary(
        start=start, end=end, totals=totals,
        by_model=_keyed(groups["model"]),
        by_provider=_keyed(groups["provider"]),
        by_assistant=_with_names(session, groups["assistant"], company_id),
        by_user=groups["user"],
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
    """One page of the calls matching `filters`, newest first (the count comes from the rollup)."""
    table = _source(filters)
    total = session.scalar(select(func.coalesce(func.sum(table.calls), 0)).where(*_conditions(filters, table))) or 0
    rows = session.scalars(select(LlmCall).where(*_conditions(filters, LlmCall))
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
    totals, groups = _totals_by(session, filters, ("model", "user"))
    return AssistantBreakdown(assistant_id=assistant_id, name=named.name, start=start, end=end, totals=totals,
                              by_model=_keyed(groups["model"]), by_user=groups["user"])


def model_breakdown(session: Session, model: str, start: date | None = None, end: date | None = None,
                    company_id: str | None = None) -> ModelBreakdown | None:
    """Totals of one model in the range, by provider, assistant and user; None if it was never called."""
    if not _exists(session, CallFilters(model=model, company_id=company_id)):
        return None
    filters = CallFilters(start=start, end=end, model=model, company_id=company_id)
    totals, groups = _totals_by(session, filters, ("provider", "assistant", "user"))
    return ModelBreakdown(
        model=model, start=start, end=end, totals=totals, by_provider=_keyed(groups["provider"]),
        by_assistant=_with_names(session, groups["assistant"], company_id), by_user=groups["user"],
    )


def user_model_costs(session: Session, user_id: str, start: date, end: date) -> list[ModelCost]:
    """What one user spent on each model in [start, end], most expensive first."""
    groups = _grouped(session, "model", CallFilters(start=start, end=end, user_id=user_id))
    return [ModelCost(model=group.key, total_cost=group.cost, total_tokens=group.tokens) for group in groups]


def rolling_total(session: Session, now: datetime, days: int = 30) -> Decimal:
    """Cost of the calls in the `days` before `now`, to the second: ``now - days < timestamp <= now``.

    One statement: the hourly rollup's rows for every hour the window touches, corrected by the
    raw calls of the parts of its two edge hours that lie outside the window. At the newest edge
    that is the rest of the current hour, after `now`: nearly always empty. At the oldest edge it
    is the shorter side of `now - days` within its hour (at most 30 minutes of calls): subtracted
    if it lies before, added if after. `now` is a parameter, not SQL ``now()``: the caller owns the
    clock (and a transaction's ``now()`` is frozen at its start).
    """
    lower, upper = now - timedelta(days=days), now
    lower_hour, end = _hour_start(lower), _hour_start(upper) + timedelta(hours=1)
    ts, cost = LlmCall.timestamp, LlmCall.total_cost
    outside = [(ts > upper) & (ts < end)]  # hourly rows count them; the window does not
    if lower - lower_hour < timedelta(minutes=30):
        first, inside = lower_hour, None
        outside.append((ts >= lower_hour) & (ts <= lower))
    else:  # the rest of the oldest hour is shorter: start at the next hour and add it from raw rows
        first = lower_hour + timedelta(hours=1)
        inside = (ts > lower) & (ts < first)
    hours = select(func.coalesce(func.sum(CallHourly.total_cost), ZERO)).where(
        CallHourly.hour >= first, CallHourly.hour < end).scalar_subquery()
    signed = case((inside, cost), else_=-cost) if inside is not None else -cost
    edges = select(func.coalesce(func.sum(signed), ZERO)).where(
        or_(*outside, *([inside] if inside is not None else []))).scalar_subquery()
    return session.scalar(select(hours + edges))


def _hour_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def report(session: Session, since: date, until: date, by: str, company_id: str | None = None) -> list[ReportRow]:
    """Totals per `by` key (one of `REPORT_KEYS`) over [since, until]; days in order, others by cost."""
    if by not in _GROUP_KEYS:
        raise ValueError(f"cannot report by {by!r}; choose one of {', '.join(REPORT_KEYS)}")
    return _grouped(session, by, CallFilters(start=since, end=until, company_id=company_id))
