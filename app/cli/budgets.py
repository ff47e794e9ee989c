"""`flask costs budgets …`: create, list, delete budgets, and their spend now (status)."""

from __future__ import annotations

from decimal import Decimal

import click
from flask.cli import AppGroup
from tabulate import tabulate

from app.budgets import (DEFAULT_THRESHOLDS, BudgetError, BudgetSpec, budget_states, create_budget, delete_budget,
                         get_budget, list_budgets, recount_budgets)
from app.cli.common import amount, costs, num
from app.budgets.forecast import budget_forecast
from app.db import get_session
from app.ledger import utc_now
from app.ledger.after_write import log_alerts
from app.models.budgets import PERIODS

budgets = AppGroup("budgets", help="Spending limits per company, period and time zone.")
costs.add_command(budgets)


def _limit(_ctx, _param, value: str) -> Decimal:
    return amount(value, positive=True)


def _thresholds(_ctx, _param, value: str) -> list[int]:
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter("comma-separated whole percentages, e.g. 50,80,100") from None


@budgets.command("create")
@click.option("--company", required=True)
@click.option("--period", type=click.Choice(PERIODS), required=True)
@click.option("--limit", "limit_usd", required=True, callback=_limit, help="USD per period.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA zone of the period's calendar.")
@click.option("--thresholds", default=",".join(map(str, DEFAULT_THRESHOLDS)), show_default=True,
              callback=_thresholds, help="Alert at these percentages of the limit.")
@click.option("--user", "user_id")
@click.option("--assistant", "assistant_id")
@click.option("--model")
@click.option("--endpoint")
@click.option("--api-key", "api_key_id", type=int, help="Only the calls of this API key (its id).")
@click.option("--webhook", "webhook_url", help="Where its alerts are sent (http:// or https://).")
def budgets_create(company: str, **values) -> None:
    """Make a budget."""
    if values["webhook_url"] and not values["webhook_url"].startswith(("http://", "https://")):
        raise click.BadParameter("must be an http:// or https:// URL", param_hint="--webhook")
    try:
        budget, alerts = create_budget(get_session(), BudgetSpec(company_id=company, **values))
    except BudgetError as exc:
        raise click.UsageError(str(exc)) from None
    get_session().commit()
    log_alerts(alerts)
    click.echo(f"Budget {budget.id}: {budget.company_id}, ${num(budget.limit_usd)} per {budget.period} "
               f"({budget.timezone}), alerts at {', '.join(f'{t}%' for t in budget.thresholds)}")


@budgets.command("list")
@click.option("--company", help="Only this company's.")
def budgets_list(company: str | None) -> None:
    """The budgets."""
    rows = [[b.id, b.company_id, b.period, b.timezone, num(b.limit_usd), ",".join(map(str, b.thresholds)),
             " ".join(f"{name}={value}" for name, value in (("user", b.user_id), ("assistant", b.assistant_id),
                                                              ("model", b.model), ("endpoint", b.endpoint),
                                                              ("key", b.api_key_id)) if value is not None)]
            for b in list_budgets(get_session(), company)]
    click.echo(tabulate(rows, headers=["id", "company", "period", "timezone", "limit $", "alerts %", "narrowed to"],
                        disable_numparse=True) if rows else "no budgets")


@budgets.command("delete")
@click.argument("budget_id", type=int)
def budgets_delete(budget_id: int) -> None:
    """Delete a budget."""
    budget = get_budget(get_session(), budget_id)
    if budget is None:
        raise click.UsageError(f"no budget {budget_id}")
    delete_budget(get_session(), budget)
    get_session().commit()
    click.echo(f"Budget {budget_id} deleted")


@budgets.command("status")
@click.option("--company", help="Only this company's.")
def budgets_status(company: str | None) -> None:
    """Each budget's spend in its current period (exact to the last committed call)."""
    budgets_by_id = {b.id: b for b in list_budgets(get_session(), company)}
    rows = []
    for state in budget_states(get_session(), company):
        budget = budgets_by_id[state.budget_id]
        used = state.spent * 100 / state.limit
        rows.append([state.budget_id, budget.company_id, state.period, state.period_start.isoformat(),
                     state.resets_at.isoformat(), num(state.spent), num(state.limit), num(state.remaining),
                     f"{used:.1f}%" + (" EXCEEDED" if state.exceeded else "")])
    click.echo(tabulate(rows, headers=["id", "company", "period", "from (UTC)", "resets at (UTC)", "spent $",
                                       "limit $", "remaining $", "used"], disable_numparse=True)
               if rows else "no budgets")


@budgets.command("recount")
@click.argument("budget_ids", nargs=-1, type=click.IntRange(min=1))
def budgets_recount(budget_ids: tuple[int, ...]) -> None:
    """Count budgets' spend again from the raw calls (all budgets, or these): after a bulk load
    that bypassed the ledger, or a repair. Writes wait while it runs."""
    known = [b.id for b in list_budgets(get_session())]
    ids = list(budget_ids) or known
    missing = sorted(set(ids) - set(known))
    if missing:
        raise click.UsageError(f"no budget {', '.join(map(str, missing))}")
    alerts = recount_budgets(get_session(), ids)
    get_session().commit()
    log_alerts(alerts)
    click.echo(f"recounted {len(ids)} budget(s); {len(alerts)} new alert(s)")


@budgets.command("forecast")
@click.argument("budget_id", type=click.IntRange(min=1))
def budgets_forecast(budget_id: int) -> None:
    """Where a budget's current period is heading: spend expected at its end, and when it would reach its limit."""
    budget = get_budget(get_session(), budget_id)
    if budget is None:
        raise click.UsageError(f"no budget {budget_id}")
    f = budget_forecast(get_session(), budget, utc_now())
    click.echo(f"Budget {f.budget_id}, {f.period} from {f.period_start.isoformat()} to {f.resets_at.isoformat()}")
    click.echo(f"  spent so far: ${num(f.spent)} of ${num(f.limit)}")
    click.echo(f"  forecast:     ${num(f.forecast)} (${num(f.low)} .. ${num(f.high)})"
               + (" — over the limit" if f.will_exceed else ""))
    if f.exceeds_at is not None:
        click.echo(f"  limit reached: {f.exceeds_at.isoformat(timespec='minutes')}")
    click.echo(f"  method: {f.method}")
