"""`flask costs reprice` and `flask costs demo`: write costs and calls in bulk."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime, timedelta

import click
from flask import current_app

from app.cli.common import DAY, costs, logger_level, num
from app.db import get_session
from app.demo import DemoSummary, DemoTraffic, record_demo
from app.ledger.after_write import log_alerts
from app.ledger.reprice import DEFAULT_BATCH_SIZE, Repricer, RepriceScope


@costs.command("reprice")
@click.option("--since", type=DAY, help="First UTC day included.")
@click.option("--until", type=DAY, help="Last UTC day included.")
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
    log_alerts(repricer.alerts)
    result = repricer.result
    click.echo(f"Examined {result.examined:,} {'calls' if include_priced else 'unpriced calls'}")
    click.echo(f"  newly priced:     {result.newly_priced:,}")
    click.echo(f"  re-priced:        {result.repriced:,}")
    if result.unpriced:
        click.echo(f"  no longer priced: {result.unpriced:,} (no price in force at their time any more)")
    click.echo(f"  still unpriced:   {result.still_unpriced:,}")
    for (provider, name, reason), count in result.still_unpriced_by_model.items():
        click.echo(f"    {provider}/{name}: {count:,} calls ({reason})")
    click.echo(f"Cost of the range: ${num(result.old_total)} -> ${num(result.new_total)}")
    if repricer.alerts:
        click.echo(f"Budget alerts recorded: {len(repricer.alerts):,} (flask costs alerts list)")


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
    with logger_level("app.ledger", logging.ERROR), click.progressbar(
        length=count, label="Recording demo calls", file=sys.stderr
    ) as bar:
        for batch in record_demo(session, DemoTraffic(count, days=days, seed=seed),
                                 partitions=current_app.extensions["ledger_partitions"]):
            session.commit()
            summary = summary.plus(batch)
            bar.update(batch.stored + batch.duplicates)
    click.echo(f"Demo seed {seed}: {summary.stored:,} calls stored, {summary.duplicates:,} duplicates")
    click.echo(f"Total cost of the {summary.calls:,} demo calls: ${num(summary.total_cost)}")
    click.echo(f"From {summary.first:%Y-%m-%d %H:%M} to {summary.last:%Y-%m-%d %H:%M} UTC")
    if summary.unpriced:
        click.echo(f"{summary.unpriced:,} calls are unpriced: "
                   "run `flask costs prices sync`, then `flask costs reprice`.")

