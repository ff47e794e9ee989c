"""What happens after calls are written: the one hook out of the ledger.

:meth:`app.ledger.Ledger.committed` calls the ``after_write`` hook with the calls a write stored
(not the duplicates it recognised), in input order, and the budget alerts the write recorded,
after the transaction that stored them committed: no row lock is held while it runs, and nothing
is announced that a rollback undid. The hook logs one ``[CostTracking]`` line per call (and warns
on unpriced calls and slow reasoning models) and one ``[BudgetAlert]`` line per alert (their
webhook delivery is the outbox's: :mod:`app.alerts.delivery`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from decimal import Decimal

from app.records import AlertRecord, CallRecord

AfterWrite = Callable[[Sequence[CallRecord], Sequence[AlertRecord]], None]

log = logging.getLogger(__name__)

# o1, o1-mini, o3-pro-2025-06-10, openai/o3 … but not gpt-4o or o4-mini.
REASONING_MODEL = re.compile(r"^(?:[\w.-]+/)?o[13](?:$|[-.])", re.IGNORECASE)


def log_calls(calls: Sequence[CallRecord], alerts: Sequence[AlertRecord] = ()) -> None:
    for call in calls:
        _log_call(call)
    log_alerts(alerts)


def log_alerts(alerts: Sequence[AlertRecord]) -> None:
    for alert in alerts:
        log.warning("[BudgetAlert] Company: %s | Budget: %s | Threshold: %d%% | Period from: %s | Spent: $%s of $%s "
                    "(alert %d)", alert.company_id, alert.budget_id, alert.threshold, alert.period_start.isoformat(),
                    alert.spent.normalize(), alert.limit.normalize(), alert.id)


def format_cost(cost: Decimal | None) -> str:
    if cost is None:
        return "unpriced"
    if 0 < cost < Decimal("0.0001"):
        return f"${cost:.8f}"
    return f"${cost:.4f}"


def _log_call(call: CallRecord) -> None:
    assistant = call.assistant_name or call.assistant_id or "-"
    log.info(
        "[CostTracking] Company: %s | Assistant: %s | Model: %s | Tokens: %s | Cost: %s",
        call.company_id, assistant, call.model, f"{call.total_tokens:,}", format_cost(call.total_cost),
    )
    if not call.priced:
        log.warning(
            "[CostTracking] No price for %s/%s at %s: call %d stored unpriced; "
            "add a price and run `flask costs reprice`",
            call.provider, call.model, call.timestamp.isoformat(), call.id,
        )
    if REASONING_MODEL.match(call.model):
        duration = f"{call.duration_ms:,} ms" if call.duration_ms is not None else "unknown duration"
        log.warning(
            "[CostTracking] Slow reasoning model: %s took %s (Company: %s | Assistant: %s); "
            "prefer a faster model where deep reasoning is not needed",
            call.model, duration, call.company_id, assistant,
        )
