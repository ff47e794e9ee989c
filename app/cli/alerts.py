"""`flask costs alerts …`: list budget alerts, and deliver them to webhooks in the foreground."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import AppGroup
from tabulate import tabulate

from app.alerts import MAX_ALERTS, list_alerts
from app.alerts.delivery import Deliverer
from app.cli.common import costs, num
from app.db import database, get_session

alerts = AppGroup("alerts", help="Thresholds budgets crossed, and their webhook delivery.")
costs.add_command(alerts)


@alerts.command("list")
@click.option("--company", help="Only this company's.")
@click.option("--budget", "budget_id", type=click.IntRange(min=1), help="Only this budget's.")
@click.option("--limit", type=click.IntRange(1, MAX_ALERTS), default=100, show_default=True)
def alerts_list(company: str | None, budget_id: int | None, limit: int) -> None:
    """Alerts, newest first."""
    rows = [[a.id, a.company_id, "" if a.budget_id is None else a.budget_id, f"{a.threshold}%", a.period,
             a.period_start.isoformat(), num(a.spent), num(a.limit), a.created_at.isoformat(timespec="seconds"),
             a.delivery + (f" ({a.attempts} attempts: {a.last_error})" if a.last_error else "")]
            for a in list_alerts(get_session(), company_id=company, budget_id=budget_id, limit=limit)]
    click.echo(tabulate(rows, headers=["id", "company", "budget", "threshold", "period", "from (UTC)", "spent $",
                                       "limit $", "recorded", "delivery"], disable_numparse=True)
               if rows else "no alerts")


@alerts.command("deliver")
@click.option("--once", is_flag=True, help="Deliver what is due now, then stop.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              help="Seconds between rounds.")
def alerts_deliver(once: bool, interval: float) -> None:
    """Send due alerts to their webhooks (WEBHOOK_SECRET signs them; ALERT_WEBHOOK_URL for budgets
    without their own). Safe beside the service's own delivery threads."""
    settings = current_app.config["LEDGER_SETTINGS"]
    if not settings.webhook_secret:
        raise click.UsageError("WEBHOOK_SECRET is not set: deliveries are signed with it")
    deliverer = Deliverer.from_settings(database().session_factory, settings)
    while True:
        done = deliverer.deliver_due(limit=MAX_ALERTS)
        if done.handled:
            click.echo(f"delivered {done.delivered}, failed {done.failed}, without webhook {done.no_webhook}")
        if once:
            return
        if not done.handled:
            time.sleep(interval)
