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
from flask import Flask, current_app
from flask.cli import AppGroup
from tabulate import tabulate

from app import analytics
from app.db import get_session
from app.partitions import (add_months, drop_partitions_before, ensure_partitions, list_partitions,
                            month_start)
from app.rollups import rebuild as rebuild_rollups
from app.demo import DemoSummary, DemoTraffic, record_demo
from app.pricing import list_prices, sync_catalog
from app.pricing.catalog import PRICE_KEYS, SERVICE_TIERS, TokenPrices
from app.pricing.overrides import Override, OverrideError, import_litellm, set_override
from app.pricing.reprice import DEFAULT_BATCH_SIZE, Repricer, RepriceScope
from app.schemas.prices import PriceRowSchema

costs = AppGroup("costs", help="Operate the LLM cost ledger: reports, prices, repricing, demo data.")
prices = AppGroup("prices", help="The price table (model_price).")
costs.add_command(prices)
partitions = AppGroup("partitions", help="Monthly partitions of llm_call_log: create ahead, drop after retention.")
costs.add_command(partitions)
rollups_group = AppGroup("rollups", help="The daily rollup (llm_call_daily).")
costs.add_command(rollups_group)


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


PRICE_COLUMNS = tuple(PRICE_KEYS)
_AT = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"])


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment else None


@prices.command("list")
@click.option("--provider", help="Only this provider (e.g. openai, anthropic, google).")
@click.option("--model", help="Only this catalog model id (e.g. gpt-4o).")
@click.option("--tier", type=click.Choice(list(SERVICE_TIERS)), help="Only this service tier.")
@click.option("--company", help="Also show this company's overrides.")
@click.option("--at", "at", type=_AT, help="Only the prices in force at this UTC date/time.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def prices_list(provider: str | None, model: str | None, tier: str | None, company: str | None,
                at: datetime | None, fmt: str) -> None:
    """List prices per million tokens, with the instant each applies from."""
    rows = list_prices(get_session(), provider=provider, model=model, at=_utc(at), company_id=company,
                       service_tier=tier)
    if fmt == "json":  # money as exact decimal strings, null when the price has no such rate (as the API)
        click.echo(json.dumps(PriceRowSchema(many=True).dump(rows), indent=2))
    elif fmt == "csv":
        records = PriceRowSchema(many=True).dump(rows)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(PriceRowSchema().fields), lineterminator="\n")
        writer.writeheader()
        writer.writerows(record | {"tiers": json.dumps(record["tiers"]) if record["tiers"] else ""}
                         for record in records)
        click.echo(out.getvalue(), nl=False)
    else:
        headers = ["id", "provider", "model", "tier", "kind", "company", "valid_from", "input", "output",
                   "cache read", "cache write", "cache 1h", "audio in", "cached audio", "audio out", "tiers"]
        table = [[p.id, p.provider, p.model, p.service_tier, p.kind, p.company_id or "",
                  p.valid_from.date().isoformat() if p.valid_from.time() == datetime.min.time()
                  else p.valid_from.isoformat(),
                  *(_num(getattr(p, name)) for name in PRICE_COLUMNS),
                  ", ".join(f"{c.removesuffix('_per_mtok')}>{t['start']}: {t['price']}"
                            for c, steps in p.tiers.items() for t in steps)] for p in rows]
        click.echo("Prices in USD per million tokens.")
        click.echo(tabulate(table, headers=headers, disable_numparse=True))


def _price_option(column: str, flag: str, text: str):
    return click.option(flag, column, type=str, callback=_decimal, help=f"{text} per million tokens (USD).")


def _decimal(ctx, param, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise click.BadParameter(f"{value!r} is not a decimal number") from None
    if not number.is_finite() or number < 0:
        raise click.BadParameter("must be a non-negative decimal number")
    return number


@prices.command("set")
@click.option("--provider", required=True)
@click.option("--model", required=True, help="Model name; stored as the catalog's id when the catalog knows it.")
@click.option("--from", "valid_from", type=_AT, required=True, help="UTC date/time the price applies from.")
@click.option("--company", help="Only for this company (default: everyone).")
@click.option("--tier", type=click.Choice(list(SERVICE_TIERS)), default="standard", show_default=True)
@_price_option("input_per_mtok", "--input", "Input")
@_price_option("output_per_mtok", "--output", "Output")
@_price_option("cache_read_per_mtok", "--cache-read", "Cached input read")
@_price_option("cache_write_per_mtok", "--cache-write", "Cache write (5 minutes)")
@_price_option("cache_write_1h_per_mtok", "--cache-write-1h", "Cache write (1 hour)")
@_price_option("input_audio_per_mtok", "--input-audio", "Audio input")
@_price_option("cached_audio_per_mtok", "--cached-audio", "Cached audio input")
@_price_option("output_audio_per_mtok", "--output-audio", "Audio output")
def prices_set(provider: str, model: str, valid_from: datetime, company: str | None, tier: str,
               **columns: Decimal | None) -> None:
    """Set a negotiated price (an override of the catalog) from a date on."""
    override = Override(provider=provider, model=model, valid_from=_utc(valid_from), company_id=company,
                        service_tier=tier, prices=TokenPrices(**columns))
    try:
        stored = set_override(get_session(), override)
    except OverrideError as exc:
        raise click.UsageError(str(exc)) from None
    get_session().commit()
    who = f"company {stored.company_id}" if stored.company_id else "everyone"
    click.echo(f"Override {stored.id}: {stored.provider}/{stored.model} ({stored.service_tier}) for {who} "
               f"from {stored.valid_from.isoformat()}. Run `flask costs reprice --since "
               f"{stored.valid_from.date().isoformat()}` to apply it to calls already stored.")


@prices.command("import-litellm")
@click.argument("path", type=click.File("r", encoding="utf-8"))
@click.option("--from", "valid_from", type=_AT, required=True, help="UTC date/time the prices apply from.")
@click.option("--company", help="Only for this company (default: everyone).")
def prices_import_litellm(path, valid_from: datetime, company: str | None) -> None:
    """Import a LiteLLM model_prices_and_context_window.json file as overrides."""
    try:
        document = json.loads(path.read(), parse_float=Decimal)  # per-token prices stay exact
    except json.JSONDecodeError as exc:
        raise click.UsageError(f"{path.name} is not valid JSON: {exc}") from None
    try:
        result = import_litellm(get_session(), document, valid_from=_utc(valid_from), company_id=company,
                                source=f"litellm:{path.name}")
    except OverrideError as exc:
        raise click.UsageError(str(exc)) from None
    get_session().commit()
    click.echo(f"{len(result.stored)} prices stored from {path.name}; {len(result.skipped)} entries skipped.")
    for name, reason in sorted(result.skipped.items()):
        click.echo(f"  skipped {name}: {reason}")


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
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First UTC day  [default: oldest raw call]")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last UTC day  [default: newest raw call]")
def rollups_rebuild(since: datetime | None, until: datetime | None) -> None:
    """Recompute the daily rollup from raw calls (after a bulk load or a repair)."""
    session = get_session()
    result = rebuild_rollups(session, since.date() if since else None, until.date() if until else None)
    session.commit()
    if result.first_day is None:
        click.echo("no raw calls: nothing to rebuild")
    else:
        click.echo(f"rebuilt {result.first_day} .. {result.last_day}: {result.rows} rollup rows")
