"""`python -m bench.backtest` (`make backtest`): how good is the month-end forecast of
:func:`app.insight.forecast`, asked as of past days?

Usage::

    make backtest                                      # 2,000,000 calls over 6 months, mid shape
    BACKTEST_CALLS=500000 BACKTEST_MONTHS=5 make backtest
    BACKTEST_GROWTH=0 BACKTEST_NOISE=0 BACKTEST_SPIKES=0 make backtest   # the bench generator's plain shape
    BACKTEST_TIMING=1 make backtest                    # also time each insight endpoint on the data

The data: BACKTEST_MONTHS (6) whole calendar months before this one, BACKTEST_CALLS (2,000,000)
calls from the benchmark's organisation (BENCH_SHAPE, mid by default, and its variables: see
bench/config.py), generated, priced and COPYed as ``make bench`` does, then every rollup rebuilt.
The bench generator's traffic in time (app/demo.py: busy office hours, quiet weekends, a smooth
50% rise over the period) is made less predictable, month to month and day to day, so that the
backtest is honest:

- **growth**: BACKTEST_GROWTH (0.05) a month, compounding, times a random walk of the level
  (BACKTEST_DRIFT, 0.03: the standard deviation of its weekly log step) — months differ;
- **daily noise** shared by every company: log-normal, BACKTEST_NOISE (0.10);
- **spikes of one company**: BACKTEST_SPIKES (0.02) of company-days get 1 to 3 more copies of
  that company's calls of the day (a batch job, a runaway loop): a heavy tail per company.

Companies' sizes follow the shape (Zipf): the smallest make a few dozen calls a day, so their
series are noisy as small customers' are.

Then for every month with 8 weeks of data before it and every cut-off day of BACKTEST_CUTOFFS
(7, 14, 21: the forecast as of that day's end, ``now`` = the next day at 00:00 UTC), the
forecast of each company and of all companies together is compared with the month's actual
total: the mean absolute percentage error (MAPE) per cut-off day, beside a naive run-rate
forecast (spent so far ÷ days elapsed × days in the month), and how often the range held the
actual. Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import sys
import time
from calendar import monthrange
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app import demo, insight
from bench.config import BenchConfigError, _float, _int, _ints, shape_from_env
from bench.database import fresh_database, make_engine, migrate
from bench.generate import COPY_COLUMNS, Traffic
from bench.load import make_partitions
from bench.shape import Shape
from bench.stages import load_calls, phase, ready_for_queries, say

HISTORY = timedelta(weeks=8)


class SeasonalTraffic(Traffic):
    """The bench traffic with growth, a drifting level and daily noise over its days."""

    def __init__(self, shape: Shape, *, today: date, growth: float, drift: float, noise: float) -> None:
        super().__init__(shape, today=today)
        rng = random.Random(f"backtest:{shape.seed}")
        weights, level = [], 1.0
        for day in range(self.days):
            if day % 7 == 0:
                level *= math.exp(rng.gauss(0, drift))
            factor = ((1 + growth) ** (day / 30.44) * level * math.exp(rng.gauss(0, noise) - noise ** 2 / 2)
                      * demo.WEEKDAY_WEIGHTS[(self.start + timedelta(days=day)).weekday()])
            weights.extend(factor * hour for hour in demo.HOUR_WEIGHTS)
        self._hour_cum = list(accumulate(weights))  # what Traffic.calls draws each call's hour from


def add_spikes(engine: Engine, traffic: Traffic, share: float, seed: int) -> int:
    """Copy the calls of a random `share` of company-days 1 to 3 more times; returns how many spikes."""
    rng = random.Random(f"backtest-spikes:{seed}")
    companies = sorted(set(traffic.organisation.user_company))
    columns = ", ".join(COPY_COLUMNS)
    copied = ", ".join("request_id || '-spike-' || n" if c == "request_id" else c for c in COPY_COLUMNS)
    spikes = 0
    with engine.begin() as conn:
        for company in companies:
            for day in range(traffic.days):
                if rng.random() >= share:
                    continue
                spikes += 1
                first = traffic.day_start(day)
                conn.execute(text(
                    f"INSERT INTO llm_call_log ({columns}) SELECT {copied} FROM llm_call_log "
                    "CROSS JOIN generate_series(1, :copies) AS n "
                    "WHERE company_id = :company AND timestamp >= :first AND timestamp < :next"),
                    {"copies": rng.randint(1, 3), "company": company, "first": first,
                     "next": first + timedelta(days=1)})
    return spikes


def months_before(today: date, count: int) -> list[date]:
    """The first days of the `count` whole months before `today`'s, oldest first."""
    months, month = [], today.replace(day=1)
    for _ in range(count):
        month = (month - timedelta(days=1)).replace(day=1)
        months.append(month)
    return months[::-1]


def actual_totals(session: Session, month: date) -> dict[str | None, Decimal]:
    """Each company's cost in `month`, and (None) every company's."""
    rows = dict(session.execute(text("SELECT company_id, sum(total_cost) FROM rollup_company_month "
                                     "WHERE month = :month GROUP BY 1"), {"month": month}).all())
    return rows | {None: sum(rows.values(), Decimal(0))}


def percent_error(forecast: Decimal, actual: Decimal) -> float:
    return float(abs(forecast - actual) / actual * 100)


def backtest(session: Session, months: list[date], cutoffs: tuple[int, ...], data_start: date) -> list[dict]:
    """One row per cut-off day: MAPE of all companies together and per company, the run-rate's,
    and how often the range held the actual."""
    results: dict[int, dict[str, list]] = {day: {"all": [], "naive all": [], "company": [], "naive company": [],
                                                 "held": []} for day in cutoffs}
    for month in months:
        if month - HISTORY < data_start:
            continue
        actual = actual_totals(session, month)
        days = monthrange(month.year, month.month)[1]
        for day in cutoffs:
            now = datetime(month.year, month.month, day, tzinfo=UTC) + timedelta(days=1)
            for company, total in actual.items():
                if not total:
                    continue
                found = insight.forecast(session, month, now, company)
                naive = found.spent / day * days
                kind = "all" if company is None else "company"
                results[day][kind].append(percent_error(found.forecast, total))
                results[day]["naive " + kind].append(percent_error(naive, total))
                if company is not None:
                    results[day]["held"].append(found.low <= total <= found.high)
        say(f"{month:%Y-%m}: forecasts at days {', '.join(map(str, cutoffs))} compared")
    return [{"day": day, "months": len(r["all"]), "all": statistics.fmean(r["all"]),
             "naive all": statistics.fmean(r["naive all"]), "company": statistics.fmean(r["company"]),
             "company median": statistics.median(r["company"]), "naive company": statistics.fmean(r["naive company"]),
             "held": 100 * sum(r["held"]) / len(r["held"]), "companies": len(r["company"])}
            for day, r in results.items() if r["all"]]


def time_endpoints(url: str, engine: Engine, months: list[date], reps: int) -> list[tuple[str, float, float]]:
    """p50 and p95 (ms) of each insight endpoint through the app in-process (Flask's test client:
    no HTTP server), for the busiest company, over the last month of data."""
    from app import create_app
    from app.auth.keys import create_key
    from app.config import Settings

    with Session(engine) as session:
        secret = create_key(session, name="backtest", company_id=None, scopes="read").secret
        company = session.execute(text("SELECT company_id FROM rollup_company_month GROUP BY 1 "
                                       "ORDER BY sum(calls) DESC LIMIT 1")).scalar_one()
        session.commit()
    client = create_app(Settings(database_url=url)).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    last = months[-1]
    end = date(last.year, last.month, monthrange(last.year, last.month)[1])
    month_range = f"companyId={company}&startDate={last}&endDate={end}"
    week = f"companyId={company}&startDate={end - timedelta(days=6)}&endDate={end}"
    quarter = f"companyId={company}&startDate={end - timedelta(days=89)}&endDate={end}"
    urls = {
        "trends, 90 days by day": f"/api/insight/trends?{quarter}",
        "trends, 90 days by week": f"/api/insight/trends?{quarter}&grain=week",
        "top 10 users, one month": f"/api/insight/top?by=user&{month_range}",
        "top 10 assistants, one month": f"/api/insight/top?by=assistant&{month_range}",
        "top 10 models, one month": f"/api/insight/top?by=model&{month_range}",
        "peaks, one month, Europe/Berlin": f"/api/insight/peaks?{month_range}&timezone=Europe/Berlin",
        "forecast of a month": f"/api/insight/forecast?companyId={company}&month={last:%Y-%m}",
        "forecast of one model's month": f"/api/insight/forecast?companyId={company}&month={last:%Y-%m}"
                                         "&model=gpt-4o",
        "anomalies, one month by day": f"/api/insight/anomalies?{month_range}",
        "anomalies, 7 days by hour": f"/api/insight/anomalies?{week}&grain=hour",
    }
    timings = []
    for name, path in urls.items():
        seconds = []
        for rep in range(reps + 3):
            started = time.perf_counter()
            answer = client.get(path)
            if answer.status_code != 200:
                raise RuntimeError(f"{path}: {answer.status_code} {answer.json}")
            if rep >= 3:  # after 3 warm-ups
                seconds.append(time.perf_counter() - started)
        ms = sorted(s * 1000 for s in seconds)
        timings.append((name, statistics.median(ms), ms[max(0, math.ceil(0.95 * len(ms)) - 1)]))
        say(f"{name}: p50 {timings[-1][1]:.1f} ms")
    return timings


def main() -> int:
    env = dict(os.environ)
    try:
        count = _int(env, "BACKTEST_MONTHS", 6, minimum=3)
        calls = _int(env, "BACKTEST_CALLS", 2_000_000)
        cutoffs = _ints(env, "BACKTEST_CUTOFFS", (7, 14, 21))
        growth, drift = _float(env, "BACKTEST_GROWTH", 0.05), _float(env, "BACKTEST_DRIFT", 0.03)
        noise, spikes = _float(env, "BACKTEST_NOISE", 0.10), _float(env, "BACKTEST_SPIKES", 0.02)
        shape = shape_from_env(env)
    except BenchConfigError as error:
        print(f"backtest: {error}", file=sys.stderr)
        return 2
    today = datetime.now(UTC).date().replace(day=1)
    months = months_before(today, count)
    shape = replace(shape, days=(today - months[0]).days)
    timing = env.get("BACKTEST_TIMING", "").strip().lower() in {"1", "true", "yes"}
    phases: dict[str, float] = {}
    with fresh_database(env.get("BENCH_DATABASE_URL", "").strip() or None,
                        keep=env.get("BENCH_KEEP", "").strip() in {"1", "true", "yes"}) as database:
        engine = make_engine(database.url)
        migrate(engine)
        traffic = SeasonalTraffic(shape, today=today, growth=growth, drift=drift, noise=noise)
        make_partitions(engine, traffic.start.date(), today)
        load_calls(engine, traffic, calls, phases)
        with phase(phases, "company spikes"):
            spiked = add_spikes(engine, traffic, spikes, shape.seed)
        ready_for_queries(engine, phases, claim_keys=False)
        with Session(engine) as session, phase(phases, "forecasts"):
            rows = backtest(session, months, cutoffs, months[0])
            in_all = session.execute(text("SELECT sum(calls) FROM rollup_company_month")).scalar_one()
        timings = time_endpoints(database.url, engine, months, _int(env, "BACKTEST_REPS", 20)) if timing else []
        engine.dispose()
    print(f"Forecast backtest: {in_all:,} calls over {months[0]:%Y-%m} .. {months[-1]:%Y-%m} ({shape.describe()}); "
          f"growth {growth:g}/month, level drift {drift:g}/week, daily noise {noise:g}, {spiked} company-day spikes "
          f"({spikes:g} of company-days); forecasts as of the end of each cut-off day.\n")
    print("| cut-off day | months | MAPE, all companies | run-rate MAPE, all | MAPE per company (mean / median) "
          "| run-rate MAPE per company | range held the actual |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['day']} | {r['months']} | {r['all']:.1f}% | {r['naive all']:.1f}% | {r['company']:.1f}% / "
              f"{r['company median']:.1f}% | {r['naive company']:.1f}% | {r['held']:.0f}% of {r['companies']} |")
    if timings:
        print(f"\nInsight endpoints, in-process (Flask test client, no HTTP server), the busiest company, "
              f"{_int(env, 'BACKTEST_REPS', 20)} runs after 3 warm-ups:\n")
        print("| endpoint | p50 | p95 |\n| --- | --- | --- |")
        for name, p50, p95 in timings:
            print(f"| {name} | {p50:.1f} ms | {p95:.1f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
