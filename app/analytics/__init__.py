"""Who spent what, on which model, when: every answer of the ledger, from the rollups.

Functions take a `Session` and return plain frozen dataclasses (:mod:`app.analytics.results`).
Questions over whole days read the smallest rollup that has every dimension they group or filter
by (:data:`app.ledger.rollup_tables.ROLLUPS`), month rows for the months a range covers and day
rows at its edges (:mod:`app.analytics.spans`), in one statement per answer
(:mod:`app.analytics.queries`, where every aggregation query lives). Only the listing of calls and
the edges of the rolling 30-day total read raw rows of `llm_call_log`.

- Money is exact `Decimal`. Unpriced calls add nothing to a cost; every total says how many calls
  in it were unpriced.
- A date range is inclusive UTC calendar days: ``start 00:00 UTC <= timestamp < (end + 1 day)
  00:00 UTC``.
- ``model`` and ``provider`` are canonical names (:func:`app.pricing.catalog.canonical`): a
  model is one row whatever spelling clients sent, and a filter by any spelling finds them all.
- Breakdowns that could be long (by model, provider, assistant, user) give their `top` entries
  and an :class:`Other` with the sums and number of the keys left out: parts and other add up
  exactly to the total. :func:`breakdown` pages through every key.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import func, literal_column, select, text
from sqlalchemy.orm import Session

from app.analytics import queries
from app.analytics.queries import Query, Row
from app.analytics.results import (
    ZERO,
    AssistantBreakdown,
    AssistantTotals,
    BreakdownPage,
    CallFilters,
    CallPage,
    Change,
    DailySplit,
    DayTotal,
    GroupTotals,
    ModelBreakdown,
    ModelCost,
    Other,
    Period,
    Ranked,
    SplitDay,
    Summary,
    Totals,
)
from app.analytics.spans import Span, plan
from app.ledger import dimensions
from app.ledger.rollup_tables import ASSISTANT, COMPANY, DAY, HOUR, MODEL, PROMOTED, ROLLUPS, Rollup
from app.models import LlmCall
from app.pricing.catalog import model_candidates, normalise_provider
from app.records import CallRecord

__all__ = ["AssistantBreakdown", "AssistantTotals", "BreakdownPage", "CallFilters", "CallPage", "Change", "DailySplit",
           "DayTotal", "GroupTotals", "ModelBreakdown", "ModelCost", "Other", "Period", "Ranked", "SplitDay", "Summary",
           "Totals", "assistant_breakdown", "breakdown", "change", "daily", "daily_split", "list_calls",
           "model_breakdown", "report", "rolling_total", "rollup_where", "summary", "user_model_costs",
           "BREAKDOWN_KEYS", "DEFAULT_SPLIT_TOP", "DEFAULT_TOP", "MAX_SPLIT_TOP", "MAX_TOP", "REPORT_KEYS", "SORTS"]

PERCENT_QUANTUM = Decimal("0.01")
DEFAULT_TOP = 10  # entries of each breakdown in summaries and single-assistant or -model answers
MAX_TOP = 100
# Keys a daily series is split by (GET /api/costs/daily?by=…): a chart's stacks, not a table.
DEFAULT_SPLIT_TOP = 5
MAX_SPLIT_TOP = 20
# `GET /api/costs` counts matching calls exactly up to this many, then from a rollup or an estimate.
COUNT_EXACTLY_UP_TO = 10_000

# What a question may group by → the rollup column ("day": the day bucket of the company rollup).
GROUP_KEYS = {"user": "user_id", "model": "model", "provider": "provider", "assistant": "assistant_id",
              "endpoint": "endpoint", "day": "day"}
REPORT_KEYS = tuple(GROUP_KEYS)
BREAKDOWN_KEYS = tuple(key for key in GROUP_KEYS if key != "day")
SORTS = ("cost", "calls", "tokens")


# ---------------------------------------------------------------------------------------------
# Building blocks


def _today() -> date:
    return datetime.now(UTC).date()


def _where(session: Session, filters: CallFilters) -> dict[str, Any]:
    """The rollup columns a question filters on, with canonical model and provider names. A model
    typed without its provider may mean several canonical names: those that have calls (a list
    when more than one; the likeliest when none)."""
    provider = normalise_provider(filters.provider) if filters.provider else None
    model: str | list[str] | None = None
    if filters.model is not None:
        candidates = model_candidates(filters.model, provider)
        present = queries.models_with_calls(session, candidates) if len(candidates) > 1 else []
        model = present[0] if len(present) == 1 else present or candidates[0]
    values = {"company_id": filters.company_id, "user_id": filters.user_id, "assistant_id": filters.assistant_id,
              "model": model, "provider": provider, "endpoint": filters.endpoint, "success": filters.success}
    if filters.dimension is not None:
        key, value = filters.dimension
        values |= {"dimension": dimensions.promoted_key(session, key), "value": value}
    return {column: value for column, value in values.items() if value is not None}


def rollup_where(session: Session, filters: CallFilters) -> dict[str, Any]:
    """The rollup columns and values `filters` select, for services that read the rollups
    themselves (:mod:`app.insight`): :func:`_where`."""
    return _where(session, filters)


def _rollup(*names: str) -> Rollup:
    """The smallest rollup with every dimension asked for (the company is in all)."""
    needed = {d for d in names if d not in ("company_id", "day")}
    return next(rollup for rollup in ROLLUPS if rollup.covers(needed))


def _totals(row: Row) -> Totals:
    return Totals(cost=row.cost, tokens=row.tokens, calls=row.calls, failures=row.failures, unpriced=row.unpriced)


def _group(row: Row) -> GroupTotals:
    return GroupTotals(key=row.key, cost=row.cost, tokens=row.tokens, calls=row.calls, failures=row.failures,
                       unpriced=row.unpriced)


def _ranked(rows: dict[str, list[Row]], part: str) -> tuple[Ranked, Totals]:
    """A ranked part's chosen entries, what they leave out, and the totals over every key."""
    entries = [_group(row) for row in rows.get(part, [])]
    [everything] = rows[part + ":all"]
    other = Other(cost=everything.cost - sum((e.cost for e in entries), ZERO),
                  tokens=everything.tokens - sum(e.tokens for e in entries),
                  calls=everything.calls - sum(e.calls for e in entries),
                  failures=everything.failures - sum(e.failures for e in entries),
                  unpriced=everything.unpriced - sum(e.unpriced for e in entries),
                  keys=everything.rank - len(entries))
    return Ranked(entries, other, keys=everything.rank), _totals(everything)


def _keyed(entries: list[GroupTotals]) -> dict[str, Totals]:
    """By a key that is never NULL (model, provider), keeping the order."""
    return {e.key: Totals(cost=e.cost, tokens=e.tokens, calls=e.calls, failures=e.failures, unpriced=e.unpriced)
            for e in entries if e.key is not None}


def _with_names(session: Session, entries: list[GroupTotals], company_id: str | None) -> list[AssistantTotals]:
    names = queries.latest_assistant_names(session, [e.key for e in entries if e.key is not None], company_id)
    return [AssistantTotals(key=e.key, name=names.get(e.key) if e.key else None, cost=e.cost, tokens=e.tokens,
                            calls=e.calls, failures=e.failures, unpriced=e.unpriced) for e in entries]


def _check_range(start: date, end: date) -> None:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")


def _check_top(top: int) -> None:
    if not 0 <= top <= MAX_TOP:
        raise ValueError(f"top must be between 0 and {MAX_TOP}")


def change(now: Totals, before: Totals) -> Change:
    """How `now` differs from `before`: cost (and in percent of `before`, None when it cost nothing),
    tokens, calls."""
    percent = None
    if before.cost:
        percent = ((now.cost - before.cost) * 100 / before.cost).quantize(PERCENT_QUANTUM, ROUND_HALF_EVEN)
    return Change(cost=now.cost - before.cost, cost_percent=percent, tokens=now.tokens - before.tokens,
                  calls=now.calls - before.calls)


# ---------------------------------------------------------------------------------------------
# Answers


def summary(session: Session, start: date, end: date, company_id: str | None = None, *,
            top: int = DEFAULT_TOP, today: date | None = None) -> Summary:
    """Totals of [start, end], its top models, providers, assistants and users (and the rest), and
    the change from the equal period just before — one statement."""
    _check_range(start, end)
    _check_top(top)
    today = today or _today()
    spans = plan(start, end, today)
    length = end - start + timedelta(days=1)
    previous_start, previous_end = start - length, start - timedelta(days=1)
    where = _where(session, CallFilters(company_id=company_id))
    query = Query()
    by_model = query.source(MODEL, spans, where, ("model", "provider"))
    query.ranked("model", by_model, "model", top=top)
    query.ranked("provider", by_model, "provider", top=top)
    query.ranked("assistant", query.source(ASSISTANT, spans, where, ("assistant_id",)), "assistant_id", top=top)
    query.ranked("user", query.source(_rollup("user_id"), spans, where, ("user_id",)), "user_id", top=top)
    query.totals("previous", query.source(COMPANY, plan(previous_start, previous_end, today), where))
    rows = query.run(session)
    models, totals = _ranked(rows, "model")
    providers, _ = _ranked(rows, "provider")
    assistants, _ = _ranked(rows, "assistant")
    users, _ = _ranked(rows, "user")
    previous = Period(previous_start, previous_end, _totals(rows["previous"][0]))
    return Summary(
        start=start, end=end, totals=totals,
        by_model=_keyed(models.entries), by_provider=_keyed(providers.entries),
        by_assistant=_with_names(session, assistants.entries, company_id), by_user=users.entries,
        other={"byModel": models.other, "byProvider": providers.other, "byAssistant": assistants.other,
               "byUser": users.other},
        previous=previous, change=change(totals, previous.totals),
    )


def daily(session: Session, start: date, end: date, company_id: str | None = None) -> list[DayTotal]:
    """One entry per UTC day of [start, end], days without calls included as zeros."""
    _check_range(start, end)
    query = Query()
    source = query.source(COMPANY, [Span(DAY, start, end)], _where(session, CallFilters(company_id=company_id)), ("day",))
    query.ranked("day", source, "day", order="key")
    found = {row.key: row for row in query.run(session).get("day", [])}
    days = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        row = found.get(day.isoformat())
        days.append(DayTotal(day, row.cost, row.tokens, row.calls, row.failures, row.unpriced) if row
                    else DayTotal(day, ZERO, 0, 0, 0, 0))
    return days


def daily_split(session: Session, start: date, end: date, by: str, company_id: str | None = None, *,
                top: int = DEFAULT_SPLIT_TOP) -> DailySplit:
    """Every UTC day of [start, end] (zeros included), its cost split by the `top` keys of `by`
    (one of `BREAKDOWN_KEYS`) over the whole range — ranked as :func:`breakdown` ranks them:
    cost, then calls, then key — and the rest of each day in `other`. One statement: the day rows
    of the smallest rollup with `by` give the ranking, the split and the days' totals, so a day's
    split and other add up exactly to its cost, and its totals are those of :func:`daily`."""
    if by not in BREAKDOWN_KEYS:
        raise ValueError(f"cannot split by {by!r}; choose one of {', '.join(BREAKDOWN_KEYS)}")
    if not 1 <= top <= MAX_SPLIT_TOP:
        raise ValueError(f"top must be between 1 and {MAX_SPLIT_TOP}")
    _check_range(start, end)
    key = GROUP_KEYS[by]
    query = Query()
    source = query.source(_rollup(key), [Span(DAY, start, end)], _where(session, CallFilters(company_id=company_id)),
                          ("day", key))
    chosen = query.ranked(by, source, key, top=top)
    query.split("day", source, key, chosen)
    rows = query.run(session)
    keys = [row.key for row in rows.get(by, [])]
    by_day: dict[str, list[Row]] = {}
    for row in rows.get("day", []):
        by_day.setdefault(row.key or "", []).append(row)
    days = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        found = by_day.get(day.isoformat(), [])
        costs = {row.rank: row.cost for row in found}
        days.append(SplitDay(day, sum((row.cost for row in found), ZERO), sum(row.tokens for row in found),
                             sum(row.calls for row in found), sum(row.failures for row in found),
                             sum(row.unpriced for row in found),
                             split=tuple(costs.get(rank, ZERO) for rank in range(1, len(keys) + 1)),
                             other=costs.get(None, ZERO)))
    return DailySplit(by=by, keys=keys, days=days)


def report(session: Session, since: date, until: date, by: str, company_id: str | None = None, *,
           top: int | None = None, today: date | None = None) -> tuple[Ranked, Totals]:
    """Totals per `by` key (one of `REPORT_KEYS`) over [since, until]: days in order, others by
    cost; the first `top` keys (None: all) and what they leave out, and the totals."""
    if by not in GROUP_KEYS:
        raise ValueError(f"cannot report by {by!r}; choose one of {', '.join(REPORT_KEYS)}")
    _check_range(since, until)
    key = GROUP_KEYS[by]
    query = Query()
    where = _where(session, CallFilters(company_id=company_id))
    if by == "day":
        source = query.source(COMPANY, [Span(DAY, since, until)], where, ("day",))
    else:
        source = query.source(_rollup(key), plan(since, until, today or _today()), where, (key,))
    query.ranked(by, source, key, top=top, order="key" if by == "day" else "cost")
    return _ranked(query.run(session), by)


def breakdown(session: Session, by: str, start: date, end: date, company_id: str | None = None, *,
              page: int = 1, limit: int = 50, sort: str = "cost", today: date | None = None) -> BreakdownPage:
    """One page of every `by` key's totals over [start, end], sorted by `sort` (most first). `by` is
    one of `BREAKDOWN_KEYS` or a promoted dimension (DimensionError when it is neither,
    DimensionNotReady while its history is being counted)."""
    if sort not in SORTS:
        raise ValueError(f"cannot sort by {sort!r}; choose one of {', '.join(SORTS)}")
    _check_range(start, end)
    where = _where(session, CallFilters(company_id=company_id))
    if by in BREAKDOWN_KEYS:  # not "day": the month rows of a period have no day (GET /api/costs/daily has days)
        rollup, key = _rollup(GROUP_KEYS[by]), GROUP_KEYS[by]
    else:  # a promoted metadata key: its values
        rollup, key = PROMOTED, "value"
        where["dimension"] = dimensions.ready_key(session, by)
    query = Query()
    source = query.source(rollup, plan(start, end, today or _today()), where, (key,))
    query.ranked(by, source, key, window=((page - 1) * limit, limit), order=sort)
    ranked, totals = _ranked(query.run(session), by)
    entries: list[GroupTotals] = ranked.entries
    if by == "assistant":
        entries = _with_names(session, entries, company_id)
    return BreakdownPage(by=by, sort=sort, start=start, end=end, entries=entries, page=page, limit=limit,
                         keys=ranked.keys, totals=totals)


def assistant_breakdown(session: Session, assistant_id: str, start: date | None = None, end: date | None = None,
                        company_id: str | None = None, *, top: int = DEFAULT_TOP,
                        today: date | None = None) -> AssistantBreakdown | None:
    """Totals of one assistant in the range, its top models and users; None if it never made a call."""
    _check_top(top)
    where = _where(session, CallFilters(company_id=company_id, assistant_id=assistant_id))
    if not queries.has_calls(session, ASSISTANT, where):
        return None
    spans = plan(start, end, today or _today())
    query = Query()
    query.ranked("model", query.source(ASSISTANT, spans, where, ("model",)), "model", top=top)
    query.ranked("user", query.source(_rollup("assistant_id", "user_id"), spans, where, ("user_id",)), "user_id",
                 top=top)
    rows = query.run(session)
    models, totals = _ranked(rows, "model")
    users, _ = _ranked(rows, "user")
    name = queries.latest_assistant_names(session, [assistant_id], company_id).get(assistant_id)
    return AssistantBreakdown(assistant_id=assistant_id, name=name, start=start, end=end, totals=totals,
                              by_model=_keyed(models.entries), by_user=users.entries,
                              other={"byModel": models.other, "byUser": users.other})


def model_breakdown(session: Session, model: str, start: date | None = None, end: date | None = None,
                    company_id: str | None = None, *, top: int = DEFAULT_TOP,
                    today: date | None = None) -> ModelBreakdown | None:
    """Totals of one model (any spelling) in the range, by provider and its top assistants and
    users; None if it was never called."""
    _check_top(top)
    where = _where(session, CallFilters(company_id=company_id, model=model))
    if not queries.has_calls(session, MODEL, where):
        return None
    spans = plan(start, end, today or _today())
    query = Query()
    query.ranked("provider", query.source(MODEL, spans, where, ("provider",)), "provider", top=top)
    query.ranked("assistant", query.source(ASSISTANT, spans, where, ("assistant_id",)), "assistant_id", top=top)
    query.ranked("user", query.source(_rollup("user_id", "model"), spans, where, ("user_id",)), "user_id", top=top)
    rows = query.run(session)
    providers, totals = _ranked(rows, "provider")
    assistants, _ = _ranked(rows, "assistant")
    users, _ = _ranked(rows, "user")
    return ModelBreakdown(
        model=where["model"] if isinstance(where["model"], str) else model, start=start, end=end, totals=totals, by_provider=_keyed(providers.entries),
        by_assistant=_with_names(session, assistants.entries, company_id), by_user=users.entries,
        other={"byProvider": providers.other, "byAssistant": assistants.other, "byUser": users.other},
    )


def user_model_costs(session: Session, user_id: str, start: date, end: date, company_id: str | None = None, *,
                     today: date | None = None) -> list[ModelCost]:
    """What one user spent on each model in [start, end], most expensive first."""
    _check_range(start, end)
    query = Query()
    where = _where(session, CallFilters(company_id=company_id, user_id=user_id))
    query.ranked("model", query.source(_rollup("user_id", "model"), plan(start, end, today or _today()), where,
                                       ("model",)), "model")
    ranked, _ = _ranked(query.run(session), "model")
    return [ModelCost(model=e.key or "", total_cost=e.cost, total_tokens=e.tokens, calls=e.calls,
                      unpriced_calls=e.unpriced) for e in ranked.entries]


def rolling_total(session: Session, now: datetime, days: int = 30, company_id: str | None = None) -> Totals:
    """Totals of the calls in the `days` before `now`, to the second: ``now - days < timestamp <= now``.

    One statement: the company rollup's rows for every hour the window touches — whole days from
    its day rows, the hours of the partial days at either end from its hour rows — corrected by
    the raw calls of the parts of its two edge hours that lie outside the window. At the newest edge
    that is the rest of the current hour, after `now`: nearly always empty. At the oldest edge it is
    the shorter side of `now - days` within its hour (at most 30 minutes of calls): subtracted if it
    lies before, added if after. `now` is a parameter, not SQL ``now()``: the caller owns the clock.
    """
    lower, upper = now - timedelta(days=days), now
    lower_hour = _hour_start(lower)
    end = _hour_start(upper) + timedelta(hours=1)
    if lower - lower_hour < timedelta(minutes=30):
        first, edge_sign = lower_hour, -1  # [lower_hour, lower] is outside: subtract it
        edge = "timestamp >= :lower_hour AND timestamp <= :lower"
    else:
        first, edge_sign = lower_hour + timedelta(hours=1), 1  # (lower, first) is inside: add it
        edge = "timestamp > :lower AND timestamp < :first"
    # Whole days in [first, end) from day rows, the hours around them from hour rows.
    first_day = _hour_start(first).replace(hour=0) + (timedelta(days=1) if first.hour else timedelta(0))
    end_day = max(_hour_start(end).replace(hour=0), first_day)
    company = "AND company_id = :company" if company_id is not None else ""
    sums = ("coalesce(sum(cost), 0) AS cost, coalesce(sum(tokens), 0) AS tokens, coalesce(sum(calls), 0) AS calls, "
            "coalesce(sum(failures), 0) AS failures, coalesce(sum(unpriced), 0) AS unpriced")

    def raw(sign: str) -> str:
        return (f"{sign}coalesce(total_cost, 0), {sign}total_tokens, {sign}1, {sign}(NOT success)::int, "
                f"{sign}(price_id IS NULL)::int")

    statement = text(
        f"SELECT {sums} FROM ("
        f"SELECT total_cost AS cost, total_tokens AS tokens, calls, failed_calls AS failures, "
        f"unpriced_calls AS unpriced FROM {COMPANY.table(HOUR)} "
        f"WHERE ((hour >= :first AND hour < :first_day) OR (hour >= :end_day AND hour < :end)) {company} "
        f"UNION ALL SELECT total_cost, total_tokens, calls, failed_calls, unpriced_calls FROM {COMPANY.table(DAY)} "
        f"WHERE day >= :first_date AND day < :end_date {company} "
        f"UNION ALL SELECT {raw('-')} FROM llm_call_log WHERE timestamp > :upper AND timestamp < :end {company} "
        f"UNION ALL SELECT {raw('-' if edge_sign < 0 else '')} FROM llm_call_log WHERE {edge} {company}"
        f") AS window_rows")
    row = session.execute(statement, {"first": first, "end": end, "upper": upper, "lower": lower,
                                      "lower_hour": lower_hour, "company": company_id,
                                      "first_day": min(first_day, end), "end_day": max(end_day, min(first_day, end)),
                                      "first_date": first_day.date(), "end_date": end_day.date()}).one()
    return Totals(cost=row.cost, tokens=int(row.tokens), calls=int(row.calls), failures=int(row.failures),
                  unpriced=int(row.unpriced))


def _hour_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# ---------------------------------------------------------------------------------------------
# Calls, one by one (raw rows, newest first by an index)


def _call_conditions(session: Session, filters: CallFilters, where: dict[str, Any] | None = None) -> list[Any]:
    """The call log's conditions for `filters` (`where`: their rollup columns, if already known)."""
    conditions: list[Any] = []
    if filters.start is not None:
        conditions.append(LlmCall.timestamp >= datetime.combine(filters.start, datetime.min.time(), tzinfo=UTC))
    if filters.end is not None:
        conditions.append(LlmCall.timestamp < datetime.combine(filters.end + timedelta(days=1), datetime.min.time(),
                                                               tzinfo=UTC))
    columns = {"model": LlmCall.canonical_model, "provider": LlmCall.canonical_provider}
    where = dict(_where(session, filters) if where is None else where)
    if "dimension" in where:  # the key as a literal: the expression of its index (app/ledger/dimensions.py)
        conditions.append(literal_column(dimensions.value_sql(where.pop("dimension"))) == where.pop("value"))
    for name, value in where.items():
        column = columns.get(name) or getattr(LlmCall, name)
        conditions.append(column.in_(value) if isinstance(value, list) else column == value)
    return conditions


_CALL_COLUMNS = tuple(LlmCall.__table__.c)


def list_calls(session: Session, filters: CallFilters, page: int, limit: int, *,
               count_exactly_up_to: int = COUNT_EXACTLY_UP_TO, today: date | None = None) -> CallPage:
    """One page of the calls matching `filters`, newest first.

    Every filter has an index whose rows are in time order (``(column, timestamp)``), so a page
    costs the same however many calls there are. The total comes from the smallest rollup that
    has every filtered dimension (exact, over the days whose raw calls are still kept); for a
    combination no rollup has, it is counted exactly up to `count_exactly_up_to` calls (a bounded
    index scan), and above that it is the planner's estimate, flagged inexact.
    """
    where = _where(session, filters)
    conditions = _call_conditions(session, filters, where)
    rows = session.execute(select(*_CALL_COLUMNS).where(*conditions)
                           .order_by(LlmCall.timestamp.desc(), LlmCall.id.desc())
                           .limit(limit).offset((page - 1) * limit)).mappings()
    records = [CallRecord.from_values(dict(row), row["recorded_at"]) for row in rows]
    total = _count_from_rollup(session, filters, where, today or _today())
    exact = True
    if total is None:
        bounded = select(LlmCall.id).where(*conditions).limit(count_exactly_up_to + 1).subquery()
        total = session.scalar(select(func.count()).select_from(bounded)) or 0
        if total > count_exactly_up_to:
            total, exact = _estimate(session, conditions), False
    return CallPage(records, page=page, limit=limit, total=total, total_exact=exact)


def _count_from_rollup(session: Session, filters: CallFilters, where: dict[str, Any], today: date) -> int | None:
    """The calls matching `filters` still stored raw, from the smallest rollup with every filtered
    dimension; None when no rollup has them all."""
    where = dict(where)
    success = where.pop("success", None)  # a measure of the rollups (failed calls), not a key
    covering = next((rollup for rollup in ROLLUPS if rollup.covers(set(where) - {"company_id"})), None)
    if covering is None or (covering is PROMOTED and not dimensions.is_ready(session, where["dimension"])):
        return None
    query = Query()
    query.totals("calls", query.source(covering, plan(filters.start, filters.end, today), where, kept_only=True))
    [found] = query.run(session)["calls"]
    return int({None: found.calls, False: found.failures, True: found.calls - found.failures}[success])


def _estimate(session: Session, conditions: list[Any]) -> int:
    """PostgreSQL's estimate of how many calls match."""
    connection = session.connection()
    compiled = select(LlmCall.id).where(*conditions).compile(dialect=connection.dialect)
    explained = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar_one()
    return int(explained[0]["Plan"]["Plan Rows"])
