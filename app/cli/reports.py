"""`flask costs report`: totals per model, user, day … as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import click
from tabulate import tabulate

from app import analytics
from app.cli.common import DAY, FORMAT, costs, num
from app.db import get_session


@costs.command("report")
@click.option("--since", type=DAY, help="First UTC day.  [default: --until minus 29 days]")
@click.option("--until", type=DAY, help="Last UTC day, inclusive.  [default: today]")
@click.option("--by", type=click.Choice(analytics.REPORT_KEYS), default="model", show_default=True)
@FORMAT
@click.option("--company", help="Only this company id.")
def report(since: datetime | None, until: datetime | None, by: str, fmt: str, company: str | None) -> None:
    """Cost, tokens, calls and failures per user, model, provider, assistant, endpoint or day."""
    last = until.date() if until else datetime.now(UTC).date()
    first = since.date() if since else last - timedelta(days=29)
    if first > last:
        raise click.BadParameter("must not be after --until", param_hint="--since")
    found = analytics.report(get_session(), first, last, by, company_id=company)
    counts = ["tokens", "calls", "failures", "unpriced"]
    rows = [[row.key, num(row.cost), *(getattr(row, c) for c in counts)] for row in found]
    total = [num(sum((row.cost for row in found), Decimal(0))),
             *(sum(getattr(row, c) for row in found) for c in counts)]
    headers = ["cost", *counts]
    if fmt == "json":
        click.echo(json.dumps({"since": first.isoformat(), "until": last.isoformat(), "by": by, "company": company,
                               "rows": [dict(zip(["key", *headers], row, strict=True)) for row in rows],
                               "total": dict(zip(headers, total, strict=True))}, indent=2))
    elif fmt == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([[by, *headers], *rows])
        click.echo(out.getvalue(), nl=False)
    else:
        table = [[key or "(none)", *rest] for key, *rest in rows] + [["TOTAL", *total]]
        click.echo(tabulate(table, headers=[by, *headers], disable_numparse=True, colalign=("left",) + ("right",) * 5))

