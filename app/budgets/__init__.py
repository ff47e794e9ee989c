"""Budgets: a company's spending limit over a calendar period (day, week, month) in a time zone,
optionally narrowed to one user, assistant, model, endpoint or API key, with alert thresholds.

This module keeps them (create, list, change, delete) and answers what they have spent
(:func:`budget_states`, :func:`check`). What a budget has spent is kept by the ledger, in the
transaction that writes each call (:mod:`app.ledger.budget_spend`): a new budget, or one whose scope
changes, is counted from the raw calls of its current period on, under a lock that makes the count
exact; changing only its limit or thresholds records the alerts its current spend now reaches.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.ledger import budget_spend
from app.models import ApiKey, Budget
from app.models.budgets import PERIODS
from app.pricing.catalog import model_candidates
from app.records import AlertRecord, BudgetState

DEFAULT_THRESHOLDS = (50, 80, 100)


class BudgetError(ValueError):
    """A budget that cannot be stored: `field` (as the API names it) and why."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass
class BudgetSpec:
    company_id: str
    period: str
    limit_usd: Decimal
    timezone: str = "UTC"
    thresholds: list[int] = field(default_factory=lambda: list(DEFAULT_THRESHOLDS))
    user_id: str | None = None
    assistant_id: str | None = None
    model: str | None = None
    endpoint: str | None = None
    api_key_id: int | None = None
    webhook_url: str | None = None


SPEC_FIELDS = tuple(f.name for f in fields(BudgetSpec))
# Fields that decide which calls count and in which period: changing one counts the budget afresh.
SCOPE_FIELDS = ("period", "timezone", "user_id", "assistant_id", "model", "endpoint", "api_key_id")
# How long a budget's change waits for the writes in flight before giving up (app.ledger.budget_spend.lock_calls).
LOCK_TIMEOUT = "10s"


def _check(session: Session, values: dict[str, Any]) -> None:
    if values["period"] not in PERIODS:
        raise BudgetError("period", f"one of {', '.join(PERIODS)}")
    try:
        ZoneInfo(values["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise BudgetError("timezone", f"unknown time zone {values['timezone']!r} (an IANA name such as "
                                      "Europe/Berlin)") from None
    if values["limit_usd"] <= 0:
        raise BudgetError("limit", "must be more than 0")
    thresholds = values["thresholds"]
    if not 1 <= len(thresholds) <= 10 or any(not 1 <= t <= 1000 for t in thresholds):
        raise BudgetError("thresholds", "1 to 10 percentages of the limit, each from 1 to 1000")
    values["thresholds"] = sorted(set(thresholds))
    if values["model"] is not None:  # matched against calls' canonical model (gpt-4o-2024-08-06 → gpt-4o)
        values["model"] = model_candidates(values["model"])[0]
    if values["api_key_id"] is not None:
        key = session.get(ApiKey, values["api_key_id"])
        if key is None or (key.company_id is not None and key.company_id != values["company_id"]):
            raise BudgetError("apiKeyId", "no such key of this company")


def create_budget(session: Session, spec: BudgetSpec) -> tuple[Budget, list[AlertRecord]]:
    """The new budget, counted from the start of its current period, and the alerts that count reaches."""
    values = {name: getattr(spec, name) for name in SPEC_FIELDS}
    _check(session, values)
    _lock(session)
    budget = Budget(**values, tracked_from=_period_start(session, values))
    session.add(budget)
    session.flush()
    return budget, budget_spend.recount(session, [budget.id])


def recount_budgets(session: Session, budget_ids: list[int]) -> list[AlertRecord]:
    """Count the budgets' spend again from the raw calls, each from its ``tracked_from`` on (after
    a bulk load that bypassed the ledger, or a repair); the alerts that reaches."""
    _lock(session)
    return budget_spend.recount(session, budget_ids)


def _lock(session: Session) -> None:
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    budget_spend.lock_calls(session)


def _period_start(session: Session, values: dict[str, Any]) -> datetime:
    return session.scalar(text("SELECT date_trunc(:period, statement_timestamp(), :zone)"),
                          {"period": values["period"], "zone": values["timezone"]})


def list_budgets(session: Session, company_id: str | None = None) -> list[Budget]:
    query = select(Budget).order_by(Budget.id)
    if company_id is not None:
        query = query.where(Budget.company_id == company_id)
    return list(session.scalars(query))


def get_budget(session: Session, budget_id: int, company_id: str | None = None) -> Budget | None:
    """The budget, if it exists and (with `company_id`) belongs to that company."""
    if not 0 < budget_id < 2**63:  # ids are bigints: anything else names no budget
        return None
    budget = session.get(Budget, budget_id)
    if budget is None or (company_id is not None and budget.company_id != company_id):
        return None
    return budget


def update_budget(session: Session, budget: Budget, changes: dict[str, Any]) -> tuple[Budget, list[AlertRecord]]:
    """Change some of a budget's fields (its company stays); the alerts its spend now reaches.
    A new scope (period, zone, narrowing) is counted afresh from its current period on."""
    values = {name: getattr(budget, name) for name in SPEC_FIELDS} | {
        name: value for name, value in changes.items() if name in SPEC_FIELDS and name != "company_id"}
    _check(session, values)
    rescoped = any(values[name] != getattr(budget, name) for name in SCOPE_FIELDS)
    if rescoped:
        _lock(session)
        values["tracked_from"] = _period_start(session, values)
    for name, value in values.items():
        setattr(budget, name, value)
    session.flush()
    if rescoped:
        return budget, budget_spend.recount(session, [budget.id])
    return budget, budget_spend.alert_current(session, budget.id)


def delete_budget(session: Session, budget: Budget) -> None:
    session.delete(budget)
    session.flush()


@dataclass(frozen=True)
class CallScope:
    """What a call about to be made would count against: its company and narrowing fields."""

    company_id: str
    user_id: str | None = None
    assistant_id: str | None = None
    model: str | None = None
    provider: str | None = None
    endpoint: str | None = None
    api_key_id: int | None = None


@dataclass(frozen=True)
class CheckResult:
    """The pre-flight answer: `allowed`, the tightest budget that applies (None: none applies) and all of them."""

    allowed: bool
    tightest: BudgetState | None
    budgets: list[BudgetState]


_STATES = f"""
SELECT b.id, b.period, p.start, {budget_spend.PERIOD_END.format(start="p.start")} AS resets_at,
       coalesce(s.spent, 0) AS spent, b.limit_usd
FROM budget b
CROSS JOIN LATERAL (SELECT {budget_spend.PERIOD_START.format(moment="coalesce(CAST(:at AS timestamptz), statement_timestamp())")}
                    AS start) p
LEFT JOIN budget_spend s ON s.budget_id = b.id AND s.period_start = p.start
WHERE {{where}}
ORDER BY b.id
"""
_CHECK = _STATES.format(where=(
    f"b.match_key = ANY({budget_spend.CANDIDATE_KEYS}) AND {budget_spend.MATCH}")
    .replace("c.canonical_model", "CAST(:model AS text)").replace("c.api_key_id", "CAST(:api_key_id AS bigint)")
    .replace("c.", ":"))
_BY_COMPANY = _STATES.format(where="(CAST(:company_id AS text) IS NULL OR b.company_id = :company_id) "
                                   "AND (CAST(:budget_id AS bigint) IS NULL OR b.id = :budget_id)")


def _states(rows) -> list[BudgetState]:
    return [BudgetState(budget_id=row.id, period=row.period, period_start=row.start, resets_at=row.resets_at,
                        spent=row.spent, limit=row.limit_usd) for row in rows]


def budget_states(session: Session, company_id: str | None = None, *, budget_id: int | None = None,
                  at: datetime | None = None) -> list[BudgetState]:
    """Every budget's spend in its period in force `at` (default: now), of one company or all (or one budget)."""
    return _states(session.execute(text(_BY_COMPANY), {"company_id": company_id, "budget_id": budget_id, "at": at}))


def check(session: Session, call: CallScope, estimated_cost: Decimal | None = None, *,
          at: datetime | None = None) -> CheckResult:
    """May a call with these attributes be made now? Not when a budget that applies has spent its
    limit — or, with `estimated_cost`, would go past it. Exact to the last committed call."""
    model = model_candidates(call.model, call.provider)[0] if call.model is not None else None
    states = _states(session.execute(text(_CHECK), {
        "company_id": call.company_id, "user_id": call.user_id, "assistant_id": call.assistant_id, "model": model,
        "endpoint": call.endpoint, "api_key_id": call.api_key_id, "at": at}))
    extra = estimated_cost or Decimal(0)
    if estimated_cost is None:
        allowed = all(state.spent < state.limit for state in states)
    else:
        allowed = all(state.spent + extra <= state.limit for state in states)
    tightest = min(states, key=lambda state: state.limit - state.spent, default=None)
    return CheckResult(allowed=allowed, tightest=tightest, budgets=states)
