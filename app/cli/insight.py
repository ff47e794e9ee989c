"""`flask costs insight trends|top|peaks|forecast|anomalies`: the insight answers as a table, CSV
or JSON (JSON: the API's own shape, through its response schemas)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import click
from flask.cli import AppGroup
from marshmallow import Schema
from tabulate import tabulate

from app import insight
from app.bounds import FIRST_DAY, span_problem
from app.cli.common import DAY, FORMAT, amount, costs, num
from app.db import get_session
from app.insight.anomalies import GRAINS as ANOMALY_GRAINS
from app.insight.anomalies import K, MAX_HOUR_DAYS, MIN_DEPARTURE
from app.insight.forecast import FILTERS
from app.insight.top import DEFAULT_TOP, MAX_TOP, TOP_BY
from app.insight.trends import GRAINS as TREND_GRAINS
from app.ledger import utc_now
from app.schemas.insight import AnomaliesSchema, ForecastSchema, PeaksSchema, TopSchema, TrendSchema

insight_group = AppGroup("insight", help="Trends, top spenders, weekly peaks, the month's forecast, anomalies.")
costs.add_command(insight_group)

COMPANY = click.option("--company", help="Only this company id (default: every company).")


def _period(command: Callable) -> Callable:
    command = click.option("--until", type=DAY, help="Last UTC day, inclusive.  [default: today]")(command)
    return click.option("--since", type=DAY, help="First UTC day.  [default: --until minus 29 days]")(command)


def _days(since: datetime | None, until: datetime | None) -> tuple[date, date]:
    last = until.date() if until else datetime.now(UTC).date()
    first = since.date() if since else max(last - timedelta(days=29), FIRST_DAY)
    if first > last:
        raise click.BadParameter("must not be after --until", param_hint="--since")
    if problem := span_problem(first, last):
        raise click.BadParameter(problem, param_hint="--since")
    return first, last


def _emit(fmt: str, schema: Schema, result: Any, headers: list[str], rows: list[list[Any]], note: str = "") -> None:
    if fmt == "json":
        click.echo(json.dumps(schema.dump(result), indent=2))
    elif fmt == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([headers, *rows])
        click.echo(out.getvalue(), nl=False)
    else:
        click.echo(tabulate(rows, headers=headers, disable_numparse=True))
        if note:
            click.echo(note)


def _percent(value: Decimal | None) -> str:
    return "" if value is None else f"{num(value)}%"


@insight_group.command("trends")
@_period
@click.option("--grain", type=click.Choice(TREND_GRAINS), default="day", show_default=True)
@COMPANY
@FORMAT
def trends(since: datetime | None, until: datetime | None, grain: str, company: str | None, fmt: str) -> None:
    """Cost, tokens and calls per day, ISO week or month, with the change from the bucket before."""
    first, last = _days(since, until)
    found = insight.trends(get_session(), first, last, grain, company)
    rows = [[b.start.isoformat(), b.end.isoformat(), num(b.totals.cost), b.totals.tokens, b.totals.calls,
             num(b.change.cost), _percent(b.change.cost_percent)] for b in found.buckets]
    _emit(fmt, TrendSchema(), found, [grain, "through", "cost", "tokens", "calls", "change", "change %"], rows)


@insight_group.command("top")
@click.option("--by", type=click.Choice(TOP_BY), required=True)
@_period
@click.option("--top", type=click.IntRange(1, MAX_TOP), default=DEFAULT_TOP, show_default=True)
@COMPANY
@FORMAT
def top(by: str, since: datetime | None, until: datetime | None, top: int, company: str | None, fmt: str) -> None:
    """The top spenders of the period, their share and change from the previous period of the same length."""
    first, last = _days(since, until)
    found = insight.top_spenders(get_session(), by, first, last, company, top=top)
    rows = [[e.key or "(none)", num(e.totals.cost), _percent(e.share), num(e.previous.cost), num(e.change.cost),
             _percent(e.change.cost_percent), "new" if e.new else ""] for e in found.entries]
    rows.append(["TOTAL", num(found.totals.cost), "", num(found.previous_totals.cost), num(found.change.cost),
                 _percent(found.change.cost_percent), f"{found.keys:,} keys"])
    _emit(fmt, TopSchema(), found, [by, "cost", "share", "previous", "change", "change %", ""], rows,
          f"previous period: {found.previous_start} .. {found.previous_end}")


@insight_group.command("peaks")
@_period
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone of the weekdays and hours.")
@COMPANY
@FORMAT
def peaks(since: datetime | None, until: datetime | None, timezone: str, company: str | None, fmt: str) -> None:
    """Cost per weekday (rows) and local hour (columns): the busy hours of the week."""
    if problem := insight.zone_problem(timezone):
        raise click.BadParameter(problem, param_hint="--timezone")
    first, last = _days(since, until)
    found = insight.peaks(get_session(), first, last, timezone, company)
    rows = [[insight.WEEKDAYS[n][:3], *(num(cell.cost) for cell in row)] for n, row in enumerate(found.cells)]
    busiest = found.busiest
    _emit(fmt, PeaksSchema(), found, ["", *map(str, range(24))], rows,
          f"busiest: {insight.WEEKDAYS[busiest.weekday - 1]} {busiest.hour:02d}:00 ({timezone})" if busiest else "")


def _month(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date:
    if value is None:
        return datetime.now(UTC).date().replace(day=1)
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise click.BadParameter("a month, YYYY-MM") from None


@insight_group.command("forecast")
@click.option("--month", callback=_month, help="YYYY-MM.  [default: this month (UTC)]")
@COMPANY
@click.option("--user", "userId", help="Only this user's spend.")
@click.option("--assistant", "assistantId", help="Only this assistant's spend.")
@click.option("--model", help="Only this model's spend.")
@click.option("--endpoint", help="Only this endpoint's spend.")
@FORMAT
def forecast(month: date, company: str | None, fmt: str, **narrowed: str | None) -> None:
    """Spend of the month so far and its forecast month-end total, with a range."""
    chosen = [(name, value) for name, value in narrowed.items() if value is not None and name in FILTERS]
    if len(chosen) > 1:
        raise click.UsageError("at most one of --user, --assistant, --model, --endpoint")
    found = insight.forecast(get_session(), month, utc_now(), company, filter=chosen[0] if chosen else None)
    rows = [["spent", num(found.spent)], ["forecast", num(found.forecast)], ["low", num(found.low)],
            ["high", num(found.high)],
            *([insight.WEEKDAYS[n], num(rate)] for n, rate in enumerate(found.daily_rates))]
    _emit(fmt, ForecastSchema(), found, [f"{found.month:%Y-%m} as of {found.now:%Y-%m-%d %H:%M} UTC", "USD"], rows,
          f"method: {found.method}; {found.history_days} days of history")


@insight_group.command("anomalies")
@_period
@click.option("--grain", type=click.Choice(ANOMALY_GRAINS), default="day", show_default=True)
@click.option("--k", "k", default=str(K), show_default=True, help="Robust standard deviations from the median.")
@click.option("--min-departure", default=str(MIN_DEPARTURE), show_default=True, help="USD.")
@COMPANY
@FORMAT
def anomalies(since: datetime | None, until: datetime | None, grain: str, k: str, min_departure: str,
              company: str | None, fmt: str) -> None:
    """Days or hours whose cost departs from the same weekday (and hour) of the 8 weeks before, and why."""
    first, last = _days(since, until)
    if grain == "hour" and (last - first).days + 1 > MAX_HOUR_DAYS:
        raise click.BadParameter(f"an hour-grain range spans at most {MAX_HOUR_DAYS} days", param_hint="--since")
    found = insight.anomalies(get_session(), first, last, grain, company, k=amount(k, positive=True),
                              min_departure=amount(min_departure))

    def named(driver: insight.Driver | None) -> str:
        return "" if driver is None else f"{driver.key or '(none)'} ({'+' if driver.departure >= 0 else ''}" \
                                         f"{num(driver.departure.quantize(Decimal('0.01')))})"

    rows = [[a.bucket.isoformat(), num(a.actual), num(a.expected), "" if a.score is None else num(a.score),
             a.direction, named(a.model), named(a.user), named(a.assistant)] for a in found.anomalies]
    _emit(fmt, AnomaliesSchema(), found, [grain, "actual", "expected", "score", "", "model", "user", "assistant"],
          rows, f"{len(found.anomalies)} of {found.checked} {grain}s anomalous (k {num(found.k)}, at least "
                f"${num(found.min_departure)} from the median of the same {grain} in the 8 weeks before)")
