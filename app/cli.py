"""`flask costs …`: operator commands, thin, over the same services as the API.

Each command owns its unit of work: it opens a session, calls services, commits at the end.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import click
from flask import Flask
from flask.cli import AppGroup
from tabulate import tabulate

from app import analytics
from app.db import get_session
from app.pricing import list_prices, sync_catalog

costs = AppGroup("costs", help="Operate the LLM cost ledger: reports, prices, repricing, demo data.")
prices = AppGroup("prices", help="The price table (model_price).")
costs.add_command(prices)


def init_app(app: Flask) -> None:
    app.cli.add_command(costs)


@costs.command("report")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First UTC day.  [default: --until minus 29 days]")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last UTC day, inclusive.  [default: today]")
@click.option("--by", type=click.Choice(analytics.REPORT_KEYS), default="model", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--company", help="Only this company id.")
def report(since: datetime | None, until: datetime | None, by: str, fmt: str, company: str | None) -> None:
    """Cost, tokens, calls and failures per user, model, provider, assistant, endpoint or day."""
    last = until.date() if until else datetime.now(UTC).date()
    first = since.date() if since else last - timedelta(days=29)
    if first > last:
        raise click.BadParameter("must not be after --until", param_hint="--since")
    found = analytics.report(get_session(), first, last, by, company_id=company)
    counts = ["tokens", "calls", "failures", "unpriced"]
    rows = [[row.key, _num(row.cost), *(getattr(row, c) for c in counts)] for row in found]
    total = [_num(sum((row.cost for row in found), Decimal(0))),
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


@prices.command("sync")
def prices_sync() -> None:
    """Load the bundled genai-prices catalog into the price table (offline; idempotent)."""
    session = get_session()
    result = sync_catalog(session)
    session.commit()
    click.echo(f"{result.source}: {result.added} added, {result.updated} updated, {result.unchanged} unchanged")


@prices.command("list")
@click.option("--provider", help="Only this provider (e.g. openai, anthropic, google).")
@click.option("--model", help="Only this catalog model id (e.g. gpt-4o).")
@click.option("--at", "at", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Only the prices in force at this UTC date/time.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def prices_list(provider: str | None, model: str | None, at: datetime | None, fmt: str) -> None:
    """List prices per million tokens, with the instant each applies from."""
    rows = list_prices(get_session(), provider=provider, model=model,
                       at=at.replace(tzinfo=UTC) if at else None)
    headers = ["provider", "model", "valid_from", "input/MTok", "output/MTok", "cache read/MTok",
               "cache write/MTok", "source"]
    table = [[p.provider, p.model, p.valid_from.date().isoformat() if p.valid_from.time() == datetime.min.time()
              else p.valid_from.isoformat(), _num(p.input_per_mtok), _num(p.output_per_mtok),
              _num(p.cache_read_per_mtok), _num(p.cache_write_per_mtok), p.source] for p in rows]
    click.echo(tabulate(table, headers=headers, disable_numparse=True))


def _num(value) -> str:
    return "" if value is None else format(value.normalize(), "f")

