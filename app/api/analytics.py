"""Blueprint `analytics`: cost summaries, daily series, call listings and breakdowns.

``/api/costs/…`` answers in camelCase; ``/analytics/cost/…`` keeps the seed's snake_case shapes.
Every handler parses the query string, calls :mod:`app.analytics`, and serialises the result.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import abort

from app import analytics
from app.api import Blueprint, csv_answer
from app.db import get_session
from app.ledger.dimensions import DimensionError, DimensionNotReady
from app.ledger import dimensions, utc_now  # the clock of `/analytics/cost/total`; tests monkeypatch it here
from app.schemas.flat import FlatDump
from app.schemas.analytics import (
    AssistantBreakdownSchema,
    BreakdownEntrySchema,
    BreakdownPageSchema,
    BreakdownQuery,
    CallListQuery,
    CallPageSchema,
    CallRecordSchema,
    CompanyOnlyQuery,
    DailyQuery,
    DailySchema,
    DimensionsSchema,
    ModelBreakdownSchema,
    ModelCostSchema,
    PaginationSchema,
    SummaryQuery,
    SummarySchema,
    TopRangeQuery,
    TotalCostSchema,
    UserPeriodQuery,
)

_RECORDS = FlatDump(CallRecordSchema())
_PAGINATION = PaginationSchema()
_BREAKDOWN = BreakdownPageSchema()
# The columns of a CSV answer: the JSON answer's keys, in its order.
_RECORD_COLUMNS = [field.data_key or name for name, field in CallRecordSchema().dump_fields.items()]
_ENTRY_COLUMNS = [field.data_key or name for name, field in BreakdownEntrySchema().dump_fields.items()]


def _page_headers(pagination: dict[str, Any]) -> dict[str, str]:
    return {"X-Total-Count": str(pagination["total"]), "X-Total-Exact": str(pagination["totalExact"]).lower(),
            "X-Page": f"{pagination['page']} of {pagination['totalPages']}"}

bp = Blueprint("analytics", __name__, description="Who spent what, on which model, when")



@bp.route("/api/costs/summary")
@bp.query(SummaryQuery)
@bp.response(200, SummarySchema, description="Totals, the top entries of each breakdown and the rest, and the "
                                             "change from the equal period before.")
def cost_summary(args: dict[str, Any]):
    return analytics.summary(get_session(), args["start"], args["end"], company_id=args["company_id"], top=args["top"])


@bp.route("/api/costs/breakdown")
@bp.query(BreakdownQuery)
@bp.response(200, BreakdownPageSchema)
@bp.alt_response(409, description="`by` is a dimension whose calls are still being counted.")
@bp.doc(**csv_answer.doc("BreakdownPage", "One page of every entry of a breakdown, most first (format=csv: its "
                                          "entries as CSV)."))
def cost_breakdown(args: dict[str, Any]):
    try:
        page = analytics.breakdown(get_session(), args["by"], args["start"], args["end"],
                                   company_id=args["company_id"], page=args["page"], limit=args["limit"],
                                   sort=args["sort"])
    except DimensionNotReady as exc:
        abort(409, message=str(exc))
    except DimensionError as exc:
        abort(400, errors={"query": {"by": [f"{exc}; choose one of {', '.join(analytics.BREAKDOWN_KEYS)} or a "
                                            "promoted dimension (GET /api/dimensions)."]}})
    if args["format"] == "csv":
        answer = _BREAKDOWN.dump(page)
        return csv_answer.response(answer["entries"], _ENTRY_COLUMNS, filename=f"breakdown-by-{page.by}.csv",
                                   headers=_page_headers(answer["pagination"]))
    return page


@bp.route("/api/dimensions")
@bp.response(200, DimensionsSchema, description="The metadata keys promoted to dimensions.")
def promoted_dimensions():
    return {"dimensions": dimensions.list_promoted(get_session())}


@bp.route("/api/costs/daily")
@bp.query(DailyQuery)
@bp.response(200, DailySchema, description="One entry per UTC day of the range, days without calls as zeros; "
                                            "with `by`, each day's cost split by the range's top keys.")
def cost_daily(args: dict[str, Any]):
    if args["by"] is not None:
        return analytics.daily_split(get_session(), args["start"], args["end"], args["by"],
                                     company_id=args["company_id"], top=args["top"])
    return {"days": analytics.daily(get_session(), args["start"], args["end"], company_id=args["company_id"])}


@bp.route("/api/costs")
@bp.query(CallListQuery)
@bp.response(200, CallPageSchema)
@bp.doc(**csv_answer.doc("CallPage", "Stored calls, newest first (format=csv: the page's records as CSV)."))
def list_calls(args: dict[str, Any]):
    try:
        page = analytics.list_calls(get_session(), args["filters"], page=args["page"], limit=args["limit"])
    except DimensionError as exc:
        abort(400, errors={"query": {"dimension": [f"{exc} (GET /api/dimensions lists them)."]}})
    # Serialised here (a Response is passed through as is): CallPageSchema's dump, with its records
    # written by FlatDump (marshmallow's per-field machinery costs more than the query).
    records = _RECORDS.many(vars(record) | {"priced": record.priced} for record in page.records)
    pagination = _PAGINATION.dump(page)
    if args["format"] == "csv":
        return csv_answer.response(records, _RECORD_COLUMNS, filename="calls.csv", headers=_page_headers(pagination))
    return current_app.json.response({"records": records, "pagination": pagination})


@bp.route("/api/costs/by-assistant/<assistant_id>")
@bp.query(TopRangeQuery)
@bp.response(200, AssistantBreakdownSchema)
@bp.alt_response(404, description="The assistant never made a call.")
def by_assistant(args: dict[str, Any], assistant_id: str):
    found = analytics.assistant_breakdown(get_session(), assistant_id, args["start"], args["end"],
                                          company_id=args["company_id"], top=args["top"])
    if found is None:
        abort(404, message=f"No calls for assistant {assistant_id!r}.")
    return found


@bp.route("/api/costs/by-model/<path:model>")
@bp.query(TopRangeQuery)
@bp.response(200, ModelBreakdownSchema)
@bp.alt_response(404, description="The model was never called.")
def by_model(args: dict[str, Any], model: str):
    found = analytics.model_breakdown(get_session(), model, args["start"], args["end"], company_id=args["company_id"],
                                      top=args["top"])
    if found is None:
        abort(404, message=f"No calls for model {model!r}.")
    return found


@bp.route("/analytics/cost/user/<user_id>")
@bp.query(UserPeriodQuery)
@bp.response(200, ModelCostSchema(many=True), description="What the user spent per model (seed shape).")
def user_cost(args: dict[str, Any], user_id: str):
    return analytics.user_model_costs(get_session(), user_id, args["start"], args["end"], company_id=args["company_id"])


@bp.route("/analytics/cost/total")
@bp.query(CompanyOnlyQuery)
@bp.response(200, TotalCostSchema, description="Cost of the last 30 days, to the second (seed shape).")
def total_cost(args: dict[str, Any]):
    totals = analytics.rolling_total(get_session(), utc_now(), company_id=args["company_id"])
    return {"total_cost": totals.cost, "calls": totals.calls, "unpriced_calls": totals.unpriced}
