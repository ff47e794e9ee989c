"""`flask costs …`: operator commands, thin, over the same services as the API.

Each command owns its unit of work: it opens a session, calls services, commits at the end.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import click
from flask import Flask
from flask.cli import AppGroup
from tabulate import tabulate

from app import analytics
from app.db import get_session
from app.demo import DemoSummary, DemoTraffic, record_demo
from app.pricing import list_prices, sync_catalog
from app.pricing.reprice import DEFAULT_BATCH_SIZE, Repricer, RepriceScope

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
    money = ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok")
    if fmt == "json":  # money as exact decimal strings, null when the price has no such rate
        body = [{"id": p.id, "provider": p.provider, "model": p.model, "valid_from": p.valid_from.isoformat()}
                | {name: None if getattr(p, name) is None else _num(getattr(p, name)) for name in money}
                | {"source": p.source}
                for p in rows]
        click.echo(json.dumps(body, indent=2))
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "provider", "model", "valid_from", *money, "source"])
        writer.writerows([p.id, p.provider, p.model, p.valid_from.isoformat(),
                          *(_num(getattr(p, name)) for name in money), p.source] for p in rows)
        click.echo(out.getvalue(), nl=False)
    else:
        headers = ["id", "provider", "model", "valid_from", "input/MTok", "output/MTok", "cache read/MTok",
                   "cache write/MTok", "source"]
        table = [[p.id, p.provider, p.model, p.valid_from.date().isoformat()
                  if p.valid_from.time() == datetime.min.time() else p.valid_from.isoformat(),
                  *(_num(getattr(p, name)) for name in money), p.source] for p in rows]
        click.echo(tabulate(table, headers=headers, disable_numparse=True))


def _num(value) -> str:
    return "" if value is None else format(value.normalize(), "f")


@costs.command("reprice")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First UTC day included.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last UTC day included.")
@click.option("--model", help="Only calls stored with this model name (exactly as it was sent).")
@click.option("--company", help="Only this company id.")
@click.option("--all", "include_priced", is_flag=True,
              help="Also recompute calls that already have costs (after a price was corrected).")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_SIZE, show_default=True,
              help="Calls per batch; each batch is committed on its own.")
def reprice(since: datetime | None, until: datetime | None, model: str | None, company: str | None,
            include_priced: bool, batch_size: int) -> None:
    """Price unpriced calls with the price in force at each call's time; idempotent.

    Add the missing price first (a catalog upgrade and `prices sync`, or a row in model_price).
    Calls whose model still has no price stay unpriced.
    """
    if since and until and until < since:
        raise click.BadParameter("must not be before --since", param_hint="--until")
    scope = RepriceScope(
        since=since.replace(tzinfo=UTC) if since else None,
        until=until.replace(tzinfo=UTC) + timedelta(days=1) if until else None,
        model=model, company=company, include_priced=include_priced,
    )
    session = get_session()
    repricer = Repricer(session, scope, batch_size=batch_size)
    with click.progressbar(length=repricer.pending, label="Repricing", file=sys.stderr) as bar:
        for batch in repricer.batches():
            session.commit()
            bar.update(batch.examined)
    result = repricer.result
    click.echo(f"Examined {result.examined:,} {'calls' if include_priced else 'unpriced calls'}")
    click.echo(f"  newly priced:     {result.newly_priced:,}")
    click.echo(f"  re-priced:        {result.repriced:,}")
    if result.unpriced:
        click.echo(f"  no longer priced: {result.unpriced:,} (no price in force at their time any more)")
    click.echo(f"  still unpriced:   {result.still_unpriced:,}")
    for (provider, name), count in result.still_unpriced_by_model.items():
        click.echo(f"    no price for {provider}/{name}: {count:,} calls")
    click.echo(f"Cost of the range: ${_num(result.old_total)} -> ${_num(result.new_total)}")


@costs.command("demo")
@click.option("--calls", "count", type=click.IntRange(min=1), required=True, help="How many demo calls.")
@click.option("--days", type=click.IntRange(min=1), default=90, show_default=True,
              help="Spread over this many days before today (UTC).")
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same calls.")
def demo(count: int, days: int, seed: int) -> None:
    """Record realistic demo traffic through the ledger (request ids demo-SEED-N: re-runs add nothing)."""
    session = get_session()
    summary = DemoSummary()
    # The ledger logs every call (and warns on each reasoning-model call): quiet for thousands.
    with _logger_level("app.ledger", logging.ERROR), click.progressbar(
        length=count, label="Recording demo calls", file=sys.stderr
    ) as bar:
        for batch in record_demo(session, DemoTraffic(count, days=days, seed=seed)):
            session.commit()
            summary = summary.plus(batch)
            bar.update(batch.stored + batch.duplicates)
    click.echo(f"Demo seed {seed}: {summary.stored:,} calls stored, {summary.duplicates:,} duplicates")
    click.echo(f"Total cost of the {summary.calls:,} demo calls: ${_num(summary.total_cost)}")
    click.echo(f"From {summary.first:%Y-%m-%d %H:%M} to {summary.last:%Y-%m-%d %H:%M} UTC")
    if summary.unpriced:
        click.echo(f"{summary.unpriced:,} calls are unpriced: "
                   "run `flask costs prices sync`, then `flask costs reprice`.")


@contextmanager
def _logger_level(name: str, level: int) -> Iterator[None]:
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)

