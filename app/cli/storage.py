"""`flask costs partitions …` and `flask costs rollups rebuild`: the storage of the call log."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import current_app
from tabulate import tabulate

from app.cli.common import DAY, partitions, rollups_group
from app.db import get_session
from app.partitions import add_months, drop_partitions_before, ensure_partitions, list_partitions, month_start
from app.ledger.rollups import rebuild as rebuild_rollups


@partitions.command("list")
def partitions_list() -> None:
    """Partitions of llm_call_log with their estimated row counts."""
    rows = [[p.name, p.month.strftime("%Y-%m") if p.month else "(default: any other month)", p.rows_estimate]
            for p in list_partitions(get_session())]
    click.echo(tabulate(rows, headers=["partition", "month", "rows (estimate)"], disable_numparse=True))


@partitions.command("ensure")
@click.option("--ahead", type=click.IntRange(min=0), help="Months ahead to create  [default: PARTITIONS_AHEAD, 3]")
def partitions_ensure(ahead: int | None) -> None:
    """Create this month's and the next months' partitions (run daily, e.g. from cron)."""
    settings = current_app.config["LEDGER_SETTINGS"]
    session = get_session()
    created = ensure_partitions(session, today=datetime.now(UTC).date(),
                                months_ahead=settings.partitions_ahead if ahead is None else ahead)
    session.commit()
    click.echo(f"created {', '.join(created)}" if created else "all partitions already exist")


@partitions.command("prune")
@click.option("--keep-months", type=click.IntRange(min=1),
              help="Whole months of raw calls to keep before the current one  [default: RETENTION_MONTHS, 13]")
@click.option("--dry-run", is_flag=True, help="Only say what would be dropped.")
def partitions_prune(keep_months: int | None, dry_run: bool) -> None:
    """Drop raw partitions older than the retention; the daily rollups keep their history."""
    keep = keep_months or current_app.config["LEDGER_SETTINGS"].retention_months
    cutoff = add_months(month_start(datetime.now(UTC).date()), -keep)
    session = get_session()
    if dry_run:
        doomed = [p.name for p in list_partitions(session) if p.month and add_months(p.month, 1) <= cutoff]
        click.echo(f"would drop calls before {cutoff}: {', '.join(doomed) or 'no monthly partition'}")
        return
    result = drop_partitions_before(session, cutoff)
    session.commit()
    click.echo(f"dropped calls before {cutoff}: {', '.join(result.dropped) or 'no monthly partition'}; "
               f"{result.default_rows_deleted} older calls from the default partition; "
               f"{result.keys_deleted} idempotency keys")


@rollups_group.command("rebuild")
@click.option("--since", type=DAY, help="First UTC day  [default: oldest raw call]")
@click.option("--until", type=DAY, help="Last UTC day  [default: newest raw call]")
def rollups_rebuild(since: datetime | None, until: datetime | None) -> None:
    """Recompute the rollups from raw calls (after a bulk load or a repair)."""
    session = get_session()
    result = rebuild_rollups(session, since.date() if since else None, until.date() if until else None)
    session.commit()
    if result.first_day is None:
        click.echo("no raw calls: nothing to rebuild")
    else:
        click.echo(f"rebuilt {result.first_day} .. {result.last_day}: "
                   + ", ".join(f"{table} {rows:,} rows" for table, rows in result.rows.items()))
