"""`flask costs prices …`: load the catalog, list prices, set overrides, import LiteLLM's table."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, time
from decimal import Decimal

import click
from tabulate import tabulate

from app.cli.common import AT, FORMAT, amount, num, prices, utc
from app.db import get_session
from app.pricing import list_prices, sync_catalog
from app.pricing.store import SYNCED_COLUMNS, catalog_diff
from app.pricing.catalog import SERVICE_TIERS, TokenPrices
from app.pricing.history import cli_actor, list_changes, set_actor
from app.pricing.overrides import Override, OverrideError, import_litellm, set_override
from app.schemas.prices import PriceRowSchema
from app.token_types import PRICE_NAMES, PRICE_TYPES, PriceType


@prices.command("sync")
@click.option("--dry-run", is_flag=True, help="Only say what syncing would add, change and end, and its effect "
                                              "on the last --days' spend; change nothing.")
@click.option("--days", type=click.IntRange(1, 3660), default=30, show_default=True,
              help="The period whose spend the dry run reprices.")
@click.option("--verbose", "-v", is_flag=True, help="List every added price (a first sync adds thousands).")
def prices_sync(dry_run: bool, days: int, verbose: bool) -> None:
    """Load the bundled genai-prices catalog into the price table (offline; idempotent).

    Upgrading genai-prices: bump it, `prices sync --dry-run` (what changes, and what the last 30 days
    would cost), `prices sync`, then `reprice --all --since D` over the range you want repriced."""
    from app.ledger.catalog_upgrade import plan_upgrade

    session = get_session()
    set_actor(session, cli_actor())
    plan = plan_upgrade(session, now=datetime.now(UTC), days=days) if dry_run else None
    diff = plan.diff if plan else catalog_diff(session)
    for old, new in diff.changed:
        what = "; ".join(f"{name}: {_shown(getattr(old, name))} -> {_shown(getattr(new, name))}"
                         for name in SYNCED_COLUMNS if getattr(old, name) != getattr(new, name))
        click.echo(f"change {new.provider}/{new.model} ({new.service_tier}{_window_of(new)}) from "
                   f"{new.valid_from.date().isoformat()}: {what}")
    for new in diff.added if verbose or len(diff.added) <= 50 else ():
        click.echo(f"add    {new.provider}/{new.model} ({new.service_tier}{_window_of(new)}) from "
                   f"{new.valid_from.date().isoformat()}: input {_shown(new.input_per_mtok)}, "
                   f"output {_shown(new.output_per_mtok)}")
    for old in diff.ended:
        click.echo(f"end    {old.provider}/{old.model} ({old.service_tier}{_window_of(old)}) from "
                   f"{old.valid_from.date().isoformat()}: no longer in the bundle (kept: calls may use it)")
    if plan:
        impact = plan.impact
        click.echo(f"Dry run: {len(diff.added):,} to add, {len(diff.changed):,} to change, {len(diff.ended):,} ended. "
                   f"Repriced, the {impact.calls:,} calls of the affected models since "
                   f"{impact.since.date().isoformat()} would cost ${num(impact.new_total)} instead of "
                   f"${num(impact.old_total)} ({'+' if impact.new_total >= impact.old_total else '-'}$"
                   f"{num(abs(impact.new_total - impact.old_total))}). Nothing was changed.")
        return
    result = sync_catalog(session)
    session.commit()
    click.echo(f"{result.source}: {result.added} added, {result.updated} updated, {result.unchanged} unchanged"
               + (f", {len(diff.ended)} no longer in the bundle (kept)" if diff.ended else ""))


def _shown(value) -> str:
    return "-" if value is None else num(value) if isinstance(value, Decimal) else str(value)


def _window_of(price) -> str:
    return f", {price.window_text}" if price.window_text else ""


# The table's short headers of the prices, in PRICE_TYPES order; should the price types no longer
# number as many, every price is headed by its option's name instead (never by another's header).
_SHORT_HEADERS = ("input", "output", "cache read", "cache write", "cache 1h", "audio in", "cached audio", "audio out")
PRICE_HEADERS = (_SHORT_HEADERS if len(_SHORT_HEADERS) == len(PRICE_TYPES)
                 else tuple(price.option.removeprefix("--") for price in PRICE_TYPES))


@prices.command("list")
@click.option("--provider", help="Only this provider (e.g. openai, anthropic, google).")
@click.option("--model", help="Only this catalog model id (e.g. gpt-4o).")
@click.option("--tier", type=click.Choice(list(SERVICE_TIERS)), help="Only this service tier.")
@click.option("--company", help="Also show this company's overrides.")
@click.option("--at", "at", type=AT, help="Only the prices in force at this UTC date/time.")
@FORMAT
def prices_list(provider: str | None, model: str | None, tier: str | None, company: str | None,
                at: datetime | None, fmt: str) -> None:
    """List prices per million tokens, with the instant each applies from."""
    rows = list_prices(get_session(), provider=provider, model=model, at=utc(at), company_id=company,
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
        headers = ["id", "provider", "model", "tier", "kind", "company", "valid_from", "window", *PRICE_HEADERS,
                   "tiers"]
        table = [[p.id, p.provider, p.model, p.service_tier, p.kind, p.company_id or "",
                  p.valid_from.date().isoformat() if p.valid_from.time() == datetime.min.time()
                  else p.valid_from.isoformat(),
                  p.window_text,
                  *(num(getattr(p, name)) for name in PRICE_NAMES),
                  ", ".join(f"{c.removesuffix('_per_mtok')}>{t['start']}: {t['price']}"
                            for c, steps in p.tiers.items() for t in steps)] for p in rows]
        click.echo("Prices in USD per million tokens.")
        click.echo(tabulate(table, headers=headers, disable_numparse=True))


def _price_options(command):
    """One option per price type (app.token_types.PRICE_TYPES), listed in its order."""
    for price in reversed(PRICE_TYPES):  # the last decorator applied is listed first
        command = _price_option(price)(command)
    return command


def _price_option(price: PriceType):
    return click.option(price.option, price.name, type=str, callback=_decimal,
                        help=f"{price.label} per million tokens (USD).")


def _decimal(ctx, param, value: str | None) -> Decimal | None:
    return None if value is None else amount(value)


def _window(value: str | None) -> tuple[time, time] | None:
    if value is None:
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a window HH:MM-HH:MM") from None
    return start, end


@prices.command("set")
@click.option("--provider", required=True)
@click.option("--model", required=True, help="Model name; stored as the catalog's id when the catalog knows it.")
@click.option("--from", "valid_from", type=AT, required=True, help="UTC date/time the price applies from.")
@click.option("--company", help="Only for this company (default: everyone).")
@click.option("--tier", type=click.Choice(list(SERVICE_TIERS)), default="standard", show_default=True)
@click.option("--window", callback=lambda ctx, param, value: _window(value),
              help="Only in this daily window: HH:MM-HH:MM (e.g. 01:00-04:00; wraps past midnight), UTC unless --zone.")
@click.option("--zone", help="The IANA time zone of --window's times (e.g. Asia/Shanghai; DST followed).")
@_price_options
def prices_set(provider: str, model: str, valid_from: datetime, company: str | None, tier: str,
               window: tuple[time, time] | None, zone: str | None, **columns: Decimal | None) -> None:
    """Set a negotiated price (an override of the catalog) from a date on."""
    start, end = window or (None, None)
    override = Override(provider=provider, model=model, valid_from=utc(valid_from), company_id=company,
                        service_tier=tier, prices=TokenPrices(**columns), window_start=start, window_end=end,
                        window_zone=zone)
    try:
        set_actor(get_session(), cli_actor())
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
@click.option("--from", "valid_from", type=AT, required=True, help="UTC date/time the prices apply from.")
@click.option("--company", help="Only for this company (default: everyone).")
def prices_import_litellm(path, valid_from: datetime, company: str | None) -> None:
    """Import a LiteLLM model_prices_and_context_window.json file as overrides."""
    try:
        document = json.loads(path.read(), parse_float=Decimal)  # per-token prices stay exact
    except json.JSONDecodeError as exc:
        raise click.UsageError(f"{path.name} is not valid JSON: {exc}") from None
    try:
        set_actor(get_session(), cli_actor())
        result = import_litellm(get_session(), document, valid_from=utc(valid_from), company_id=company,
                                source=f"litellm:{path.name}")
    except OverrideError as exc:
        raise click.UsageError(str(exc)) from None
    get_session().commit()
    click.echo(f"{len(result.stored)} prices stored from {path.name}; {len(result.skipped)} entries skipped.")
    for name, reason in sorted(result.skipped.items()):
        click.echo(f"  skipped {name}: {reason}")



@prices.command("history")
@click.option("--provider", help="Only this provider's prices.")
@click.option("--model", help="Only this model's prices (as price rows name it).")
@click.option("--company", help="Also this company's overrides.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def prices_history(provider: str | None, model: str | None, company: str | None, limit: int) -> None:
    """Who changed which price, when, from what to what (latest first)."""
    changes = list_changes(get_session(), provider=provider, model=model, company_id=company, limit=limit)
    if not changes:
        click.echo("no price changes recorded")
        return
    for change in changes:
        what = "; ".join(f"{name}: {'' if old is None else old} -> {'' if new is None else new}"
                         for name, (old, new) in change.differences.items())
        click.echo(f"{change.changed_at.isoformat(timespec='seconds')}  {change.actor}  {change.action} "
                   f"price {change.price_id} {change.provider}/{change.model}"
                   f"{' (' + change.company_id + ')' if change.company_id else ''}: {what}")


def _rates(prices: TokenPrices) -> str:
    shown = {"in": prices.input_per_mtok, "out": prices.output_per_mtok, "cache read": prices.cache_read_per_mtok}
    text = ", ".join(f"{name} {num(value)}" for name, value in shown.items() if value is not None)
    steps = "; ".join(f"{column.removesuffix('_per_mtok')} >{step['start']:,}: {step['price']}"
                      for column, tiers in prices.tiers.items() for step in tiers)
    return text + (f" ({steps})" if steps else "")


@prices.command("compare")
@click.argument("path", type=click.File("r", encoding="utf-8"))
@click.option("--tolerance", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Percent by which two costs may differ before they are listed.")
@click.option("--at", "at", type=AT, help="Compare the catalog prices in force then (UTC; default now).")
def prices_compare(path, tolerance: float, at: datetime | None) -> None:
    """A second opinion: LiteLLM's model_prices_and_context_window.json against the catalog.

    For each model both price, a few standard usages are costed with each side's prices; those
    that differ by more than --tolerance percent are listed with the prices (USD per million
    tokens) behind each figure. Set an override (`prices set`) where the catalog is wrong."""
    from app.pricing.compare import USAGES, compare

    try:
        document = json.loads(path.read(), parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise click.UsageError(f"{path.name} is not valid JSON: {exc}") from None
    try:
        result = compare(get_session(), document, at=utc(at) if at else datetime.now(UTC),
                         tolerance=Decimal(str(tolerance)))
    except OverrideError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"{result.compared:,} models priced by both ({result.only_litellm:,} LiteLLM entries the catalog "
               f"does not price); usages: {'; '.join(USAGES)}")
    if not result.disagreements:
        click.echo(f"No cost differs by more than {tolerance:g}%.")
        return
    rows = [[f"{d.provider}/{d.model}", d.usage.split(" (")[0],
             "(cannot price)" if d.ours is None else num(d.ours),
             "(cannot price)" if d.theirs is None else num(d.theirs),
             "" if d.percent is None else f"{d.percent:+}%", _rates(d.our_prices), _rates(d.their_prices)]
            for d in result.disagreements]
    click.echo(tabulate(rows, headers=["model", "usage", "catalog $", "LiteLLM $", "LiteLLM vs catalog",
                                       "catalog prices", "LiteLLM prices"], disable_numparse=True))
    click.echo(f"{len(result.disagreements):,} costs differ by more than {tolerance:g}%.")
