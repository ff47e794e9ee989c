"""Blueprint `budgets`: `/api/budgets[/<id>]` — read scope to list, admin to change (app.auth) —,
`/api/budgets/status` (each budget's spend now) and `/api/budgets/check` (the pre-flight check)."""

from __future__ import annotations

from typing import Any

from flask_smorest import abort

from app.api import ExactNumbersBlueprint
from app.auth import current_principal, key_company
from app.budgets import (BudgetError, BudgetSpec, CallScope, budget_states, check, create_budget, delete_budget,
                         get_budget, list_budgets, update_budget)
from app.db import database, get_session
from app.ledger.after_write import log_alerts
from app.budgets.forecast import budget_forecast
from app.ledger import utc_now
from app.schemas.budgets import (BudgetCheckQuery, BudgetCheckSchema, BudgetForecastSchema, BudgetInSchema,
                                 BudgetListQuery, BudgetListSchema, BudgetPatchSchema, BudgetSchema,
                                 BudgetStatusSchema)

bp = ExactNumbersBlueprint("budgets", __name__, url_prefix="/api/budgets",
                           description="Spending limits per company, period and time zone")


def _refused(exc: BudgetError) -> None:
    abort(400, message=str(exc), errors={"json": {exc.field: [exc.message]}})


def _visible(budget_id: int):
    """The budget, or 404 — also for another company's (a company key never learns it exists)."""
    budget = get_budget(get_session(), budget_id, key_company())
    if budget is None:
        abort(404, message=f"No budget {budget_id}.")
    return budget


@bp.route("", methods=["POST"])
@bp.arguments(BudgetInSchema())
@bp.response(201, BudgetSchema)
def post_budget(body: dict[str, Any]):
    session = get_session()
    try:
        budget, alerts = create_budget(session, BudgetSpec(**body))
    except BudgetError as exc:
        _refused(exc)
    session.commit()
    log_alerts(alerts)
    return budget


@bp.route("")
@bp.query(BudgetListQuery)
@bp.response(200, BudgetListSchema)
def get_budgets(args: dict[str, Any]):
    return {"budgets": list_budgets(get_session(), args["company_id"])}


@bp.route("/status")
@bp.query(BudgetListQuery)
@bp.response(200, BudgetStatusSchema)
def get_status(args: dict[str, Any]):
    """Each budget's spend in its current period, exact to the last committed call."""
    return {"budgets": budget_states(get_session(), args["company_id"])}


@bp.route("/check")
@bp.query(BudgetCheckQuery)
@bp.response(200, BudgetCheckSchema)
def get_check(args: dict[str, Any]):
    """May a call with these attributes be made now? The tightest budget that applies (least
    remaining) and every budget that applies; exact to the last committed call. A budget narrowed to
    an API key applies when the call would be sent with the key asking."""
    principal = current_principal()
    scope = CallScope(company_id=args["company_id"], user_id=args.get("user_id"),
                      assistant_id=args.get("assistant_id"), model=args.get("model"), provider=args.get("provider"),
                      endpoint=args.get("endpoint"), api_key_id=principal.key_id if principal else None)
    # One statement, in autocommit: no BEGIN and ROLLBACK round trips on the clients' hot path.
    with database().statement_factory() as session:
        result = check(session, scope, args.get("estimated_cost"))
    tightest = result.tightest
    return {"allowed": result.allowed, "budgets": result.budgets,
            "budget_id": tightest and tightest.budget_id, "period": tightest and tightest.period,
            "spent": tightest and tightest.spent, "limit": tightest and tightest.limit,
            "remaining": tightest and tightest.remaining, "resets_at": tightest and tightest.resets_at}


@bp.route("/<int:budget_id>")
@bp.response(200, BudgetSchema)
def get_one(budget_id: int):
    return _visible(budget_id)


@bp.route("/<int:budget_id>/forecast")
@bp.response(200, BudgetForecastSchema)
def get_forecast(budget_id: int):
    """The spend expected when the budget's current period ends, and when it would reach its limit."""
    return budget_forecast(get_session(), _visible(budget_id), utc_now())


@bp.route("/<int:budget_id>", methods=["PATCH"])
@bp.arguments(BudgetPatchSchema())
@bp.response(200, BudgetSchema)
def patch_budget(changes: dict[str, Any], budget_id: int):
    budget = _visible(budget_id)
    try:
        _, alerts = update_budget(get_session(), budget, changes)
    except BudgetError as exc:
        _refused(exc)
    get_session().commit()
    log_alerts(alerts)
    return budget


@bp.route("/<int:budget_id>", methods=["DELETE"])
@bp.response(204)
def remove_budget(budget_id: int):
    delete_budget(get_session(), _visible(budget_id))
    get_session().commit()
