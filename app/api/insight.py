"""Blueprint `insight`: trends, top spenders, weekly peaks, the month's forecast, anomalies.

Every handler parses the query string (a company key sees its own company only: `CompanyId`),
calls :mod:`app.insight`, and serialises the result.
"""

from __future__ import annotations

from typing import Any


from app import insight
from app.api import Blueprint
from app.db import get_session
from app.ledger import utc_now  # the clock of the forecast; tests may monkeypatch it here
from app.schemas.insight import (
    AnomaliesQuery,
    AnomaliesSchema,
    ForecastQuery,
    ForecastSchema,
    PeaksQuery,
    PeaksSchema,
    TopQuery,
    TopSchema,
    TrendSchema,
    TrendsQuery,
)

bp = Blueprint("insight", __name__, description="Trends, top spenders, peaks, forecasts and anomalies")



@bp.route("/api/insight/trends")
@bp.query(TrendsQuery)
@bp.response(200, TrendSchema, description="Cost, tokens and calls per whole day, ISO week or month (UTC), "
                                           "zero-filled, each with the change from the bucket before.")
def trends(args: dict[str, Any]):
    return insight.trends(get_session(), args["start"], args["end"], args["grain"], args["company_id"])


@bp.route("/api/insight/top")
@bp.query(TopQuery)
@bp.response(200, TopSchema, description="The top users, assistants, models or endpoints by cost, each with its "
                                         "share and the change from the previous period of the same length.")
def top(args: dict[str, Any]):
    return insight.top_spenders(get_session(), args["by"], args["start"], args["end"], args["company_id"],
                                top=args["top"])


@bp.route("/api/insight/peaks")
@bp.query(PeaksQuery)
@bp.response(200, PeaksSchema, description="Cost and calls per weekday × local hour in `timezone`.")
def peaks(args: dict[str, Any]):
    return insight.peaks(get_session(), args["start"], args["end"], args["timezone"], args["company_id"])


@bp.route("/api/insight/forecast")
@bp.query(ForecastQuery)
@bp.response(200, ForecastSchema, description="Spend of the month so far, its forecast month-end total and a "
                                              "range (README: the method and its backtest).")
def forecast(args: dict[str, Any]):
    return insight.forecast(get_session(), args["month"], utc_now(), args["company_id"], filter=args["filter"])


@bp.route("/api/insight/anomalies")
@bp.query(AnomaliesQuery)
@bp.response(200, AnomaliesSchema, description="Days or hours whose cost departs from a robust weekly baseline, "
                                               "each with the model, user and assistant that explain most of it.")
def anomalies(args: dict[str, Any]):
    return insight.anomalies(get_session(), args["start"], args["end"], args["grain"], args["company_id"],
                             k=args["k"], min_departure=args["min_departure"])
