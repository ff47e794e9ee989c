"""Query-string and response schemas of `/api/insight/…` (camelCase; money as exact decimal strings,
shares and scores as decimal strings to two places).

Ranges are inclusive UTC days as in analytics (`startDate`, `endDate`, default the last 30 days),
but for peaks, whose days are those of its `timezone`. Every bad value is a 400 naming its field.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, pre_dump, validate, validates_schema

from app.bounds import day_problem, span_problem
from app.insight import WEEKDAYS, Peaks, Spender, TrendBucket, zone_problem
from app.insight.anomalies import GRAINS as ANOMALY_GRAINS
from app.insight.anomalies import K, MAX_HOUR_DAYS, MIN_DEPARTURE
from app.insight.forecast import FILTERS
from app.insight.top import DEFAULT_TOP, MAX_TOP, TOP_BY
from app.insight.trends import GRAINS as TREND_GRAINS
from app.schemas.analytics import DEFAULT_DAYS, ChangeSchema, CompanyPeriodQuery, TotalsSchema, utc_today
from app.schemas.fields import CompanyId, Money

_MONTH = re.compile(r"\d{4}-\d{2}")


def _range(data: dict[str, Any]) -> tuple[date, date]:
    """The range asked for, with CompanyPeriodQuery's defaults (applied after validation)."""
    end = data.get("end") or utc_today()
    return data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1), end


def _check_span(data: dict[str, Any]) -> None:
    if (problem := span_problem(*_range(data))) is not None:
        raise ValidationError(problem, "startDate")


# ---------------------------------------------------------------------------------------------
# Query strings


class TrendsQuery(CompanyPeriodQuery):
    grain = fields.String(load_default="day", validate=validate.OneOf(TREND_GRAINS), metadata={
        "description": "day, week (ISO, from Monday) or month (UTC). The range is widened to whole buckets."})

    @validates_schema
    def _check(self, data: dict[str, Any], **kwargs: Any) -> None:
        _check_span(data)


class TopQuery(CompanyPeriodQuery):
    by = fields.String(required=True, validate=validate.OneOf(TOP_BY))
    top = fields.Integer(load_default=DEFAULT_TOP, validate=validate.Range(min=1, max=MAX_TOP), metadata={
        "description": f"How many entries, by most cost (default {DEFAULT_TOP}, at most {MAX_TOP})."})


class Zone(fields.String):
    """An IANA time zone name (``Europe/Berlin``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        name = super()._deserialize(value, attr, data, **kwargs)
        if len(name) > 64 or zone_problem(name):
            raise ValidationError("Not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC).")
        return name


class PeaksQuery(CompanyPeriodQuery):
    timezone = Zone(load_default="UTC", metadata={
        "example": "Europe/Berlin", "description": "IANA time zone of the grid's weekdays and hours, and of the "
                                                   "range's days (default UTC)."})

    @validates_schema
    def _check(self, data: dict[str, Any], **kwargs: Any) -> None:
        _check_span(data)


class Month(fields.Field):
    """``YYYY-MM`` → the month's first day."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "example": "2026-03"} | kwargs.pop("metadata", {})
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        if not isinstance(value, str) or not _MONTH.fullmatch(value):
            raise ValidationError("Not a month (YYYY-MM).")
        try:
            first = date(int(value[:4]), int(value[5:]), 1)
        except ValueError:
            raise ValidationError("Not a month (YYYY-MM).") from None
        if problem := day_problem(first):
            raise ValidationError(problem)
        return first


def _filter(data_key: str, max_length: int) -> fields.String:
    return fields.String(data_key=data_key, load_default=None, validate=validate.Length(min=1, max=max_length))


class ForecastQuery(Schema):
    company_id = CompanyId()
    month = Month(load_default=lambda: utc_today().replace(day=1),
                  metadata={"description": "Default: this month (UTC)."})
    user_id = _filter("userId", 200)
    assistant_id = _filter("assistantId", 200)
    model = _filter("model", 200)
    endpoint = _filter("endpoint", 500)

    @validates_schema
    def _one_filter(self, data: dict[str, Any], **kwargs: Any) -> None:
        given = [name for name, field in FILTERS.items() if data.get(field) is not None]
        if len(given) > 1:
            raise ValidationError(f"At most one of {', '.join(FILTERS)}; this asks for {' and '.join(given)}.",
                                  given[1])

    @post_load
    def _make_filter(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        chosen = [(name, data.pop(field)) for name, field in FILTERS.items() if data.get(field) is not None]
        for field in FILTERS.values():
            data.pop(field, None)
        data["filter"] = chosen[0] if chosen else None
        return data


def _k_in_range(k: Decimal) -> None:
    if not Decimal("0.5") <= k <= 100:
        raise ValidationError("Must be from 0.5 to 100.")


class AnomaliesQuery(CompanyPeriodQuery):
    grain = fields.String(load_default="day", validate=validate.OneOf(ANOMALY_GRAINS), metadata={
        "description": f"day or hour (UTC); an hour-grain range spans at most {MAX_HOUR_DAYS} days."})
    # The range is checked by a function: validate.Range would put Decimal bounds in the OpenAPI
    # document, written as strings where JSON Schema wants numbers.
    k = fields.Decimal(load_default=K, places=None, validate=_k_in_range,
                       as_string=True, metadata={"description": f"How many robust standard deviations (1.4826 × MAD) "
                                                                f"from the median is an anomaly (default {K}), "
                                                                "from 0.5 to 100.",
                                                 "minimum": 0.5, "maximum": 100})
    min_departure = Money(data_key="minDeparture", load_default=MIN_DEPARTURE, metadata={
        "description": f"The least departure from the median, in USD, that is an anomaly (default {MIN_DEPARTURE})."})

    @validates_schema
    def _check(self, data: dict[str, Any], **kwargs: Any) -> None:
        _check_span(data)
        start, end = _range(data)
        if data.get("grain") == "hour" and (end - start).days + 1 > MAX_HOUR_DAYS:
            raise ValidationError(f"An hour-grain range spans at most {MAX_HOUR_DAYS} days.", "startDate")
        if data.get("min_departure") is not None and data["min_departure"] < 0:
            raise ValidationError("Must not be negative.", "minDeparture")


# ---------------------------------------------------------------------------------------------
# Responses


class _Range(Schema):
    start = fields.Date(data_key="startDate")
    end = fields.Date(data_key="endDate")


class TrendBucketSchema(TotalsSchema, _Range):
    change = fields.Nested(ChangeSchema, metadata={"description": "From the bucket before (the first: from the "
                                                                  "bucket before the range)."})

    @pre_dump
    def _flat(self, bucket: TrendBucket, **kwargs: Any) -> dict[str, Any]:
        return vars(bucket.totals) | {"start": bucket.start, "end": bucket.end, "change": bucket.change}


class TrendSchema(_Range):
    grain = fields.String()
    buckets = fields.List(fields.Nested(TrendBucketSchema))
    totals = fields.Nested(TotalsSchema)


class SpenderSchema(TotalsSchema):
    key = fields.String(allow_none=True, metadata={"description": "null: the calls without this dimension."})
    name = fields.String(allow_none=True, metadata={"description": "by=assistant: its most recent name."})
    share = Money(allow_none=True, metadata={"example": "12.5", "description": "Percent of the period's cost, "
                                                                               "to 0.01; null when it cost 0."})
    previous_cost = Money(attribute="previous.cost", data_key="previousCost")
    previous_calls = fields.Integer(attribute="previous.calls", data_key="previousCalls")
    change = fields.Nested(ChangeSchema)
    new = fields.Boolean(metadata={"description": "No calls in the previous period: a new entrant."})

    @pre_dump
    def _flat(self, spender: Spender, **kwargs: Any) -> dict[str, Any]:
        return vars(spender.totals) | {name: getattr(spender, name)
                                       for name in ("key", "name", "share", "previous", "change", "new")}


class TopSchema(_Range):
    by = fields.String()
    previous_start = fields.Date(data_key="previousStartDate")
    previous_end = fields.Date(data_key="previousEndDate")
    entries = fields.List(fields.Nested(SpenderSchema))
    keys = fields.Integer(metadata={"description": "How many entries had calls in the period."})
    totals = fields.Nested(TotalsSchema)
    previous_totals = fields.Nested(TotalsSchema, data_key="previousTotals")
    change = fields.Nested(ChangeSchema)


class PeakCellSchema(Schema):
    hour = fields.Integer(metadata={"description": "Local hour, 0-23."})
    cost = Money()
    calls = fields.Integer()
    hours = fields.Integer(metadata={"description": "How many such local hours the range holds (DST: 0 or 2 in "
                                                    "the weeks it starts and ends)."})


class PeakDaySchema(Schema):
    weekday = fields.String(metadata={"example": "Monday"})
    hours = fields.List(fields.Nested(PeakCellSchema), metadata={"description": "24 local hours, from 0."})


class PeaksSchema(_Range):
    timezone = fields.String()
    weekdays = fields.List(fields.Nested(PeakDaySchema), metadata={"description": "Monday … Sunday."})
    busiest = fields.Dict(allow_none=True, metadata={"description": "{weekday, hour} of the most cost; null "
                                                                    "when the range cost nothing."})
    cost = Money()
    calls = fields.Integer()

    @pre_dump
    def _named_days(self, peaks: Peaks, **kwargs: Any) -> dict[str, Any]:
        busiest = peaks.busiest
        return {"start": peaks.start, "end": peaks.end, "timezone": peaks.timezone, "cost": peaks.totals.cost,
                "calls": peaks.totals.calls,
                "busiest": {"weekday": WEEKDAYS[busiest.weekday - 1], "hour": busiest.hour} if busiest else None,
                "weekdays": [{"weekday": WEEKDAYS[n], "hours": row} for n, row in enumerate(peaks.cells)]}


class ForecastSchema(Schema):
    month = fields.Function(lambda f: f.month.strftime("%Y-%m"), metadata={"type": "string", "example": "2026-03"})
    now = fields.DateTime(format="iso", metadata={"description": "Spend is counted to this moment."})
    filter = fields.Function(lambda f: {f.filter[0]: f.filter[1]} if f.filter else None, allow_none=True,
                             metadata={"type": "object", "description": "The dimension forecast, or null: the "
                                                                        "company's whole spend."})
    spent = Money(metadata={"description": "From the month's first day to `now`."})
    forecast = Money(metadata={"description": "The month-end total expected."})
    low = Money()
    high = Money()
    daily_rates = fields.List(Money(), data_key="dailyRates",
                              metadata={"description": "Expected cost of a day, Monday … Sunday."})
    history_days = fields.Integer(data_key="historyDays")
    method = fields.String()


class DriverSchema(Schema):
    key = fields.String(allow_none=True)
    actual = Money()
    expected = Money()
    departure = Money()


class AnomalySchema(Schema):
    bucket = fields.Function(lambda a: a.bucket.isoformat(), metadata={
        "type": "string", "description": "A UTC day (YYYY-MM-DD) or the start of a UTC hour (ISO datetime)."})
    actual = Money()
    expected = Money(metadata={"description": "The baseline's median."})
    mad = Money(metadata={"description": "The baseline's median absolute deviation."})
    score = Money(allow_none=True, metadata={"description": "(actual - expected) / (1.4826 × MAD), to 0.01; null "
                                                            "when the MAD is 0."})
    direction = fields.String(metadata={"description": "up or down."})
    model = fields.Nested(DriverSchema, allow_none=True)
    user = fields.Nested(DriverSchema, allow_none=True)
    assistant = fields.Nested(DriverSchema, allow_none=True)


class AnomaliesSchema(_Range):
    grain = fields.String()
    k = fields.Decimal(as_string=True, metadata={"type": "string", "format": "decimal"})
    min_departure = Money(data_key="minDeparture")
    baseline_weeks = fields.Integer(data_key="baselineWeeks")
    checked = fields.Integer(metadata={"description": "Buckets judged: ended (today and this hour are not, yet) "
                                                      "and with enough baseline."})
    anomalies = fields.List(fields.Nested(AnomalySchema))


__all__ = ["AnomaliesQuery", "AnomaliesSchema", "ForecastQuery", "ForecastSchema", "PeaksQuery",
           "PeaksSchema", "TopQuery", "TopSchema", "TrendsQuery", "TrendSchema"]
