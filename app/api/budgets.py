"""Blueprint `budgets`: `/api/budgets[/<id>]` — read scope to list, admin to change (app.auth)."""

from __future__ import annotations

from typing import Any

from flask_smorest import abort
from marshmallow import RAISE

from app.api import ExactNumbersBlueprint
from app.auth import key_company
from app.budgets import BudgetError, BudgetSpec, create_budget, delete_budget, get_budget, list_budgets, update_budget
from app.db import get_session
from app.schemas.budgets import BudgetInSchema, BudgetListQuery, BudgetListSchema, BudgetPatchSchema, BudgetSchema

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
        budget = create_budget(session, BudgetSpec(**body))
    except BudgetError as exc:
        _refused(exc)
    session.commit()
    return budget


@bp.route("")
@bp.arguments(BudgetListQuery, location="query", unknown=RAISE)
@bp.response(200, BudgetListSchema)
def get_budgets(args: dict[str, Any]):
    return {"budgets": list_budgets(get_session(), args["company_id"])}


@bp.route("/<int:budget_id>")
@bp.response(200, BudgetSchema)
def get_one(budget_id: int):
    return _visible(budget_id)


@bp.route("/<int:budget_id>", methods=["PATCH"])
@bp.arguments(BudgetPatchSchema())
@bp.response(200, BudgetSchema)
def patch_budget(changes: dict[str, Any], budget_id: int):
    budget = _visible(budget_id)
    try:
        update_budget(get_session(), budget, changes)
    except BudgetError as exc:
        _refused(exc)
    get_session().commit()
    return budget


@bp.route("/<int:budget_id>", methods=["DELETE"])
@bp.response(204)
def remove_budget(budget_id: int):
    delete_budget(get_session(), _visible(budget_id))
    get_session().commit()
