"""`flask costs dimensions …`: promote metadata keys to dimensions, list and demote them."""

from __future__ import annotations

import sys

import click
from tabulate import tabulate

from app.cli.common import costs
from app.db import database, get_session
from app.ledger import dimensions as promoted
from app.ledger.dimensions import DimensionError
from flask.cli import AppGroup

dimensions = AppGroup("dimensions", help="Metadata keys promoted to dimensions (breakdowns and filters by them).")
costs.add_command(dimensions)


@dimensions.command("list")
def dimensions_list() -> None:
    """The promoted keys, and whether their calls are all counted yet."""
    rows = [[d.key, "ready" if d.ready else "counting (run `dimensions backfill`)", d.promoted_at.isoformat()]
            for d in promoted.list_promoted(get_session())]
    click.echo(tabulate(rows, headers=["dimension", "state", "promoted at"], disable_numparse=True)
               if rows else "no promoted dimensions")


@dimensions.command("promote")
@click.argument("key")
def dimensions_promote(key: str) -> None:
    """Make metadata KEY a dimension: its values get breakdowns (GET /api/costs/breakdown?by=KEY) and a
    records filter (GET /api/costs?dimension=KEY:VALUE). Counts the calls already stored day by day
    (ingest goes on meanwhile) and builds the filter's index without blocking writes."""
    session = get_session()
    try:
        promoted.promote(session, key)
    except DimensionError as exc:
        raise click.UsageError(str(exc)) from None
    session.commit()
    click.echo(f"{key}: promoted; new calls are counted under it from now on")
    _index(key)
    _backfill(key)


@dimensions.command("backfill")
@click.argument("key")
def dimensions_backfill(key: str) -> None:
    """Count the calls already stored under KEY again (resumes an interrupted promotion; idempotent)."""
    _index(key)
    _backfill(key)


@dimensions.command("demote")
@click.argument("key")
def dimensions_demote(key: str) -> None:
    """Forget KEY as a dimension: its rollup rows and its index go (the calls' metadata stays)."""
    session = get_session()
    try:
        promoted.demote(session, key)
    except DimensionError as exc:
        raise click.UsageError(str(exc)) from None
    session.commit()
    click.echo(f"{key}: demoted")


def _index(key: str) -> None:
    engine = database().engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        promoted.ensure_value_index(connection, key, concurrently=True)
    click.echo(f"{key}: records filter index {promoted.index_name(key)} ready")


def _backfill(key: str) -> None:
    session = get_session()
    try:
        days = promoted.backfill(session, key)
        with click.progressbar(days, label=f"Counting {key}", file=sys.stderr) as bar:
            for _ in bar:
                session.commit()  # a day at a time: writers wait for one day's recount at most
    except DimensionError as exc:
        raise click.UsageError(str(exc)) from None
    session.commit()
    click.echo(f"{key}: ready")
