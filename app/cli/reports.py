"""`flask costs report`: totals per model, user, day … as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import click
from tabulate import tabulate

from app import analytics
from app.cli.common import DAY, FORMAT, costs, num
from app.bounds import FIRST_DAY, span_problem
from app.db import get_session


@costs.command("report")
@click.option("--since", type=DAY, help="First UTC day.  [default: --until minus 29 days]")
@click.option("--until", type=DAY, help="Last UTC day, inclusive.  [default: today]")
@click.option("--by", type=click.Choice(analytics.REPORT_KEYS), default="model", show_default=True)
@FORMAT
@click.option("--company", help="Only this company id.")
@click.option("--top", type=click.IntRange(min=0), default=50, show_default=True,
              help="Rows by most cost (the rest summed in one 'other' row); 0: every row. Days: always every day.")
def report(since: datetime | None, until: datetime | None, by: str, fmt: str, company: str | None, top: int) -> None:
    """Cost, tokens, calls, failures and unpriced calls per user, model, provider, assistant, endpoint or day.

    Cost counts priced calls only: a row whose calls are all unpriced shows no cost, not 0.
    """
    last = until.date() if until else datetime.now(UTC).date()
    first = since.date() if since else max(last - timedelta(days=29), FIRST_DAY)
    if first > last:
        raise click.BadParameter("must not be after --until", param_hint="--since")
    if by == "day" and (problem := span_problem(first, last)):
        raise click.BadParameter(problem, param_hint="--since")
    ranked, totals = analytics.report(get_session(), first, last, by, company_id=company,
                                      top=None if top == 0 or by == "day" else top)
    counts = ["tokens", "calls", "failures", "unpriced"]
    headers = ["cost", *counts]

    # A row whose calls are all unpriced has no cost: not 0 (blank in CSV, null in JSON).
    unpriced_cost = {"json": None, "csv": ""}.get(fmt, "(unpriced)")

    def cells(row) -> list:
        cost = unpriced_cost if row.calls and row.unpriced == row.calls else num(row.cost)
        return [cost, *(getattr(row, c) for c in counts)]

    rows = [[row.key, *cells(row)] for row in ranked.entries]
    other = [f"(other: {ranked.other.keys:,})", *cells(ranked.other)] if ranked.other.keys else None
    total = cells(totals)
    if fmt == "json":
        click.echo(json.dumps({"since": first.isoformat(), "until": last.isoformat(), "by": by, "company": company,
                               "rows": [dict(zip(["key", *headers], row, strict=True)) for row in rows],
                               "other": dict(zip(["keys", *headers], [ranked.other.keys, *cells(ranked.other)],
                                                 strict=True)),
                               "total": dict(zip(headers, total, strict=True))}, indent=2))
    elif fmt == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([[by, *headers], *rows, *([other] if other else [])])
        click.echo(out.getvalue(), nl=False)
    else:
        table = ([[key or "(none)", *rest] for key, *rest in rows] + ([other] if other else [])
                 + [["TOTAL", *total]])
        click.echo(tabulate(table, headers=[by, *headers], disable_numparse=True, colalign=("left",) + ("right",) * 5))
        if totals.unpriced:
            click.echo(f"{totals.unpriced:,} calls had no price and count in no cost: add the price, then run "
                       "`flask costs reprice`.")
