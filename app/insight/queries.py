"""Every statement insight runs, read top to bottom: series of the company rollup (per day, ISO week,
month or hour), the weekday × local-hour grid, a period's sums for chosen keys, a filtered daily
series, today's edge from the hour rollup and the raw log, and the values that explain an anomaly.

Periods of whole days are read as :mod:`app.analytics` reads them (:class:`app.analytics.queries.Query`
over :mod:`app.analytics.spans`); the rest are short statements over one rollup table each. Only
two read raw ``llm_call_log``: the part of the current hour before a forecast's cut-off (and of
today, for a forecast narrowed to a dimension the hour rollup lacks), and the calls of the few
anomalous hours being explained. `company_id` None means every company (a platform key).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.analytics.queries import Query
from app.analytics.results import Totals
from app.analytics.spans import Span
from app.ledger.rollup_tables import COMPANY, DAY, HOUR, MONTH, ROLLUPS, Rollup, at_grain

_MEASURES = ("coalesce(sum(total_cost), 0) AS cost, coalesce(sum(total_tokens), 0)::bigint AS tokens, "
             "coalesce(sum(calls), 0)::bigint AS calls, coalesce(sum(failed_calls), 0)::bigint AS failures, "
             "coalesce(sum(unpriced_calls), 0)::bigint AS unpriced")
# The bucket of a company-rollup row per trend grain: (the table's grain, the bucket's SQL).
_TREND_BUCKETS = {"day": (DAY, "day"), "week": (DAY, "date_trunc('week', day)::date"), "month": (MONTH, "month")}
# Raw columns of the rollup dimensions a forecast may be narrowed by (model and provider: canonical).
_RAW_COLUMNS = {"model": "canonical_model", "provider": "canonical_provider"}
# The rollup (at day grain) and raw column of each dimension an anomaly is explained by.
EXPLAINED_BY = {"model": "model", "user": "user_id", "assistant": "assistant_id"}


def _company(company_id: str | None, column: str = "company_id") -> str:
    return f" AND {column} = :company" if company_id is not None else ""


def _totals(row: Any) -> Totals:
    return Totals(cost=row.cost, tokens=int(row.tokens), calls=int(row.calls), failures=int(row.failures),
                  unpriced=int(row.unpriced))


def covering(dimensions: set[str]) -> Rollup:
    """The smallest rollup with every one of these dimensions (the company is in all)."""
    return next(rollup for rollup in ROLLUPS if rollup.covers(dimensions - {"company_id"}))


# ---------------------------------------------------------------------------------------------
# Trends and peaks: the company rollup


def trend_buckets(session: Session, grain: str, first: date, last: date, company_id: str | None) -> dict[date, Totals]:
    """Totals per bucket (its first day) of the whole buckets in [first, last]: day and week from
    day rows, month from month rows."""
    table_grain, bucket = _TREND_BUCKETS[grain]
    column = table_grain.name
    rows = session.execute(text(
        f"SELECT {bucket} AS bucket, {_MEASURES} FROM {COMPANY.table(table_grain)} "
        f"WHERE {column} >= :first AND {column} <= :last{_company(company_id)} GROUP BY 1"),
        {"first": first, "last": last, "company": company_id})
    return {row.bucket: _totals(row) for row in rows}


def weekday_hour_grid(session: Session, lower: datetime, upper: datetime, zone: str,
                      company_id: str | None) -> list[Any]:
    """Per (ISO weekday, local hour) in `zone`: how many UTC hour buckets starting in [lower, upper)
    start in it, and their cost and calls (the hour rollup). Every pair with at least one hour."""
    return session.execute(text(
        "WITH slots AS (SELECT extract(isodow FROM g AT TIME ZONE :zone)::int AS weekday, "
        "extract(hour FROM g AT TIME ZONE :zone)::int AS hour, count(*) AS hours "
        "FROM generate_series(date_trunc('hour', CAST(:lower AS timestamptz) + interval '59 minutes 59.999999 seconds'), "
        "CAST(:upper AS timestamptz) - interval '1 microsecond', interval '1 hour') AS g GROUP BY 1, 2), "
        "costs AS (SELECT extract(isodow FROM hour AT TIME ZONE :zone)::int AS weekday, "
        "extract(hour FROM hour AT TIME ZONE :zone)::int AS hour, sum(total_cost) AS cost, sum(calls) AS calls "
        f"FROM {COMPANY.table(HOUR)} WHERE hour >= :lower AND hour < :upper{_company(company_id)} GROUP BY 1, 2) "
        "SELECT weekday, hour, hours, coalesce(cost, 0) AS cost, coalesce(calls, 0)::bigint AS calls "
        "FROM slots LEFT JOIN costs USING (weekday, hour) ORDER BY 1, 2"),
        {"zone": zone, "lower": lower, "upper": upper, "company": company_id}).all()


def first_active_day(session: Session, company_id: str | None) -> date | None:
    """The first UTC day with calls (None: none ever): the first month from month rows, then its day."""
    return session.execute(text(
        f"WITH first AS (SELECT min(month) AS month FROM {COMPANY.table(MONTH)} WHERE calls <> 0"
        f"{_company(company_id)}) "
        f"SELECT min(day) FROM {COMPANY.table(DAY)}, first WHERE day >= first.month "
        f"AND day < first.month + interval '1 month' AND calls <> 0{_company(company_id)}"),
        {"company": company_id}).scalar_one()


def company_costs(session: Session, grain: str, lower: datetime | date, upper: datetime | date,
                  company_id: str | None) -> dict[Any, Decimal]:
    """Cost per bucket of the company rollup at `grain` (day or hour) in [lower, upper)."""
    table_grain = DAY if grain == "day" else HOUR
    column = table_grain.name
    rows = session.execute(text(
        f"SELECT {column} AS bucket, sum(total_cost) AS cost FROM {COMPANY.table(table_grain)} "
        f"WHERE {column} >= :lower AND {column} < :upper{_company(company_id)} GROUP BY 1"),
        {"lower": lower, "upper": upper, "company": company_id})
    return {row.bucket: row.cost for row in rows}


# ---------------------------------------------------------------------------------------------
# Periods and series of any rollup


def key_totals(session: Session, rollup: Rollup, spans: list[Span], where: Mapping[str, Any], key: str,
               keys: Sequence[str | None]) -> tuple[dict[str | None, Totals], Totals]:
    """The totals of these `key` values over the period `spans` make up, and of every value."""
    query = Query()
    query.keyed("keys", query.source(rollup, spans, where, (key,)), key, keys)
    query.totals("all", query.source(COMPANY, spans, {k: v for k, v in where.items() if k == "company_id"}))
    rows = query.run(session)
    return {row.key: _totals(row) for row in rows.get("keys", [])}, _totals(rows["all"][0])


def daily_costs(session: Session, where: Mapping[str, Any], first: date, last: date) -> dict[date, Decimal]:
    """Cost per UTC day of [first, last] of the calls `where` selects (days without calls absent),
    from the day rows of the smallest rollup with its dimensions."""
    query = Query()
    source = query.source(covering(set(where)), [Span(DAY, first, last)], where, ("day",))
    query.ranked("day", source, "day", order="key")
    return {date.fromisoformat(row.key): row.cost for row in query.run(session).get("day", []) if row.key}


def _hour_ceiling(moment: datetime) -> datetime:
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(hours=1)


def cost_between(session: Session, where: Mapping[str, Any], lower: datetime, upper: datetime) -> Decimal:
    """Cost of the calls `where` selects stamped in [lower, upper): the company's whole hours from
    the hour rollup (when `where` has no other dimension), the rest from the raw log."""
    hours_lower = hours_upper = lower  # no whole hours: everything raw
    if set(where) <= {"company_id"}:
        whole_from, whole_to = _hour_ceiling(lower), upper.replace(minute=0, second=0, microsecond=0)
        if whole_from < whole_to:
            hours_lower, hours_upper = whole_from, whole_to
    params: dict[str, Any] = {"lower": lower, "upper": upper, "hours_lower": hours_lower, "hours_upper": hours_upper}
    raw = []
    for name, value in where.items():
        column = _RAW_COLUMNS.get(name, name)
        params[name] = value
        raw.append(f" AND {column} = ANY(CAST(:{name} AS text[]))" if isinstance(value, list)
                   else f" AND {column} = :{name}")
    raw_where = "".join(raw)
    company = _company(where.get("company_id"))
    params["company"] = where.get("company_id")
    return session.execute(text(
        "SELECT coalesce(sum(cost), 0) FROM ("
        f"SELECT total_cost AS cost FROM {COMPANY.table(HOUR)} WHERE hour >= :hours_lower AND hour < :hours_upper"
        f"{company} UNION ALL "
        "SELECT total_cost FROM llm_call_log WHERE ((timestamp >= :lower AND timestamp < :hours_lower) "
        f"OR (timestamp >= :hours_upper AND timestamp < :upper)){raw_where}) AS parts"), params).scalar_one()


# ---------------------------------------------------------------------------------------------
# What explains an anomaly


def drivers(session: Session, grain: str, dimension: str, buckets: Sequence[date | datetime],
            expected: Sequence[Decimal], signs: Sequence[int], baselines: Sequence[Sequence[date]],
            company_id: str | None) -> dict[Any, tuple[str | None, Decimal, Decimal]]:
    """For each bucket, the value of `dimension` (model, user_id, assistant_id) whose cost in the
    bucket departs most, in the bucket's direction (`signs`: +1 up, -1 down), from what was
    expected of it: the bucket's `expected` cost × the value's share of the cost over its
    `baselines` days (day rows). A bucket's cost per value: day rows (day grain) or the raw calls
    of that hour (hour grain). → bucket: (value, actual, expected)."""
    table = at_grain(covering({dimension}), DAY).table(DAY)
    company = _company(company_id, "r.company_id")
    if grain == "day":
        actual = (f"SELECT f.bucket, r.{dimension}::text AS key, r.total_cost AS actual, 0 AS base "
                  f"FROM flagged f JOIN {table} r ON r.day = f.bucket{company}")
    else:
        actual = (f"SELECT f.bucket, r.{_RAW_COLUMNS.get(dimension, dimension)}::text AS key, "
                  "coalesce(r.total_cost, 0) AS actual, 0 AS base FROM flagged f JOIN llm_call_log r "
                  f"ON r.timestamp >= f.bucket AND r.timestamp < f.bucket + interval '1 hour'{company}")
    cast = "date" if grain == "day" else "timestamptz"
    # The baseline's days as (bucket, day) pairs, and the days alone as a condition of the rollup's
    # index (day leads it): only those days' rows are read, not the company's every day.
    pairs = [(bucket, day) for bucket, days in zip(buckets, baselines, strict=True) for day in days]
    rows = session.execute(text(
        f"WITH flagged AS (SELECT * FROM unnest(CAST(:buckets AS {cast}[]), CAST(:expected AS numeric[]), "
        "CAST(:signs AS int[])) AS f(bucket, expected, sign)), "
        f"baseline AS (SELECT * FROM unnest(CAST(:pair_buckets AS {cast}[]), CAST(:pair_days AS date[])) "
        "AS b(bucket, day)), "
        f"parts AS ({actual} UNION ALL "
        f"SELECT b.bucket, r.{dimension}::text, 0, r.total_cost FROM baseline b JOIN {table} r ON r.day = b.day "
        f"WHERE r.day = ANY(CAST(:days AS date[])){company}), "
        "keyed AS (SELECT bucket, key, sum(actual) AS actual, sum(base) AS base FROM parts GROUP BY 1, 2), "
        "scored AS (SELECT k.bucket, k.key, k.actual, f.sign, coalesce(f.expected * k.base "
        "/ nullif(sum(k.base) OVER (PARTITION BY k.bucket), 0), 0) AS typical FROM keyed k JOIN flagged f USING (bucket)) "
        "SELECT DISTINCT ON (bucket) bucket, key, actual, typical FROM scored "
        "ORDER BY bucket, (actual - typical) * sign DESC, key"),
        {"buckets": list(buckets), "expected": list(expected), "signs": list(signs),
         "pair_buckets": [bucket for bucket, _ in pairs], "pair_days": [day for _, day in pairs],
         "days": sorted({day for _, day in pairs}),
         "company": company_id})
    return {row.bucket: (row.key, row.actual, row.typical) for row in rows}
