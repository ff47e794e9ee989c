"""Query-string and response schemas of the analytics routes.

Query strings: dates are ISO ``YYYY-MM-DD`` (inclusive UTC days), unknown parameters are refused,
`success` is exactly ``true`` or ``false``. Responses: money is an exact decimal string (`Money`);
keys are camelCase under ``/api/costs``, snake_case on the seed-compatible ``/analytics`` routes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app
from marshmallow import Schema, ValidationError, fields, post_load, pre_dump, validate, validates_schema

from app.analytics import (
    BREAKDOWN_KEYS,
    DEFAULT_SPLIT_TOP,
    DEFAULT_TOP,
    MAX_SPLIT_TOP,
    MAX_TOP,
    SORTS,
    BreakdownPage,
    CallFilters,
    CallPage,
    DailySplit,
)
from app.schemas.calls import CallOutSchema
from app.bounds import FIRST_DAY, MAX_OFFSET, offset_problem, span_problem
from app.schemas.fields import CompanyId, Day, Money

DEFAULT_DAYS = 30


def utc_today() -> date:
    return datetime.now(UTC).date()


# ---------------------------------------------------------------------------------------------
# Query strings


class DateRangeQuery(Schema):
    """Optional inclusive range; when both dates are given, endDate must not precede startDate.
    Dates lie within the years the ledger holds (app.bounds)."""

    start = Day(data_key="startDate", load_default=None, metadata={"example": "2026-03-01"})
    end = Day(data_key="endDate", load_default=None, metadata={"example": "2026-03-31"})

    @validates_schema
    def _check_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("start"), data.get("end")
        if start is not None and end is not None and end < start:
            raise ValidationError("Must not be before startDate.", "endDate")


class PeriodQuery(DateRangeQuery):
    """A range that defaults to the last 30 days: endDate today (UTC), startDate 29 days before it."""

    end = Day(data_key="endDate", load_default=utc_today,
              metadata={"example": "2026-03-31", "description": "Default: today (UTC)."})
    start = Day(data_key="startDate", load_default=None,
                metadata={"example": "2026-03-01", "description": "Default: endDate minus 29 days."})

    @post_load
    def _default_start(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if data["start"] is None:
            data["start"] = max(data["end"] - timedelta(days=DEFAULT_DAYS - 1), FIRST_DAY)
        return data


class CompanyPeriodQuery(PeriodQuery):
    company_id = CompanyId()


class CompanyRangeQuery(DateRangeQuery):
    company_id = CompanyId()


def _top() -> fields.Integer:
    return fields.Integer(load_default=DEFAULT_TOP, validate=validate.Range(min=0, max=MAX_TOP), metadata={
        "description": f"Entries of each breakdown (by most cost); the rest are summed in `other`. "
                       f"Default {DEFAULT_TOP}, at most {MAX_TOP}."})


class SummaryQuery(CompanyPeriodQuery):
    top = _top()


class TopRangeQuery(CompanyRangeQuery):
    top = _top()


class DailyQuery(CompanyPeriodQuery):
    """A day-by-day range: at most `app.bounds.MAX_DAYS` days; optionally each day's cost split by
    the top `top` keys of `by` (`top` only with `by`)."""

    by = fields.String(load_default=None, validate=validate.OneOf(BREAKDOWN_KEYS), metadata={
        "description": f"Split each day's cost by this key: one of {', '.join(BREAKDOWN_KEYS)} (model: the canonical "
                       "model). Adds `by` and `keys` to the answer, and `split` and `other` to each day."})
    top = fields.Integer(load_default=None, validate=validate.Range(min=1, max=MAX_SPLIT_TOP), metadata={
        "description": f"Only with `by`: how many keys to split by, the most expensive of the whole range "
                       f"(default {DEFAULT_SPLIT_TOP}, at most {MAX_SPLIT_TOP}); the rest of a day is its `other`."})

    @validates_schema
    def _check_span(self, data: dict[str, Any], **kwargs: Any) -> None:
        end = data.get("end") or utc_today()
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if problem := span_problem(start, end):
            raise ValidationError(problem, "startDate")

    @validates_schema
    def _check_top(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("top") is not None and data.get("by") is None:
            raise ValidationError("Only with `by` (the keys to split each day by).", "top")

    @post_load
    def _default_top(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if data["by"] is not None and data["top"] is None:
            data["top"] = DEFAULT_SPLIT_TOP
        return data


class CompanyOnlyQuery(Schema):
    company_id = CompanyId()


class UserPeriodQuery(PeriodQuery):
    company_id = CompanyId()


def _page() -> fields.Integer:
    return fields.Integer(load_default=1, validate=validate.Range(min=1), metadata={
        "description": f"From 1; a page starts at most {MAX_OFFSET:,} rows in ((page - 1) × limit)."})


def _check_offset(data: dict[str, Any]) -> None:
    page, limit = data.get("page"), data.get("limit")
    if page is not None and limit is not None and (problem := offset_problem(page, limit)):
        raise ValidationError(problem, "page")


def _filter(max_length: int) -> fields.String:
    return fields.String(load_default=None, validate=validate.Length(max=max_length))


def _format() -> fields.String:
    return fields.String(load_default="json", validate=validate.OneOf(("json", "csv")), metadata={
        "description": "json (default) or csv: the same rows and values, one line each, under a header of the "
                       "JSON keys (pagination in the X-Total-Count, X-Total-Exact and X-Page headers)."})


class BreakdownQuery(CompanyPeriodQuery):
    format = _format()
    by = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$"), metadata={
        "description": f"One of {', '.join(BREAKDOWN_KEYS)}, or a promoted metadata dimension "
                       "(`flask costs dimensions promote KEY`; see GET /api/dimensions)."})
    sort = fields.String(load_default="cost", validate=validate.OneOf(SORTS),
                         metadata={"description": "Most first: by cost (default), calls or tokens."})
    page = _page()
    limit = fields.Integer(load_default=lambda: _default_page_size(), validate=lambda v: _check_page_size(v),
                           metadata={"description": "Entries per page: 50 unless set, at most 1000."})

    @validates_schema
    def _check_depth(self, data: dict[str, Any], **kwargs: Any) -> None:
        _check_offset(data)


def _default_page_size() -> int:
    return current_app.config["LEDGER_SETTINGS"].default_page_size


def _check_page_size(value: int) -> None:
    largest = current_app.config["LEDGER_SETTINGS"].max_page_size
    if not 1 <= value <= largest:
        raise ValidationError(f"Must be between 1 and {largest}.")


class CallListQuery(CompanyRangeQuery):
    format = _format()
    page = _page()
    limit = fields.Integer(load_default=_default_page_size, validate=_check_page_size,
                           metadata={"description": "Page size: 50 unless set, at most 1000 (the server's settings)."})
    assistant_id = fields.String(data_key="assistantId", load_default=None, validate=validate.Length(max=200))
    user_id = fields.String(data_key="userId", load_default=None, validate=validate.Length(max=200))
    model = _filter(200)
    provider = _filter(64)
    endpoint = _filter(500)
    success = fields.Boolean(truthy={"true"}, falsy={"false"}, load_default=None,
                             metadata={"description": "`true` or `false`."})
    dimension = fields.String(load_default=None, validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,39}:"), metadata={
        "description": "`key:value`: calls whose metadata has this value for a promoted dimension "
                       "(e.g. `project:checkout`)."})

    @validates_schema
    def _check_depth(self, data: dict[str, Any], **kwargs: Any) -> None:
        _check_offset(data)

    @post_load
    def _make_filters(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        page, limit, answer_format = data.pop("page"), data.pop("limit"), data.pop("format")
        if data["dimension"] is not None:
            key, _, value = data["dimension"].partition(":")
            data["dimension"] = (key, value)
        return {"filters": CallFilters(**data), "page": page, "limit": limit, "format": answer_format}


# ---------------------------------------------------------------------------------------------
# Responses under /api/costs (camelCase)


class TotalsSchema(Schema):
    cost = Money(metadata={"description": "Cost of the priced calls; unpriced calls add nothing (see `unpriced`)."})
    tokens = fields.Integer()
    calls = fields.Integer()
    failures = fields.Integer()
    unpriced = fields.Integer(metadata={"description": "Calls with no known price, not in `cost`."})


class OtherSchema(TotalsSchema):
    keys = fields.Integer(metadata={"description": "How many entries the top ones leave out."})


class UserTotalsSchema(TotalsSchema):
    id = fields.String(attribute="key", allow_none=True, metadata={"description": "null: calls without a user."})


class AssistantTotalsSchema(TotalsSchema):
    id = fields.String(attribute="key", allow_none=True, metadata={"description": "null: calls without an assistant."})
    name = fields.String(allow_none=True, metadata={"description": "The most recent name reported for this id."})


def _other(*names: str) -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Nested(OtherSchema), metadata={
        "description": "Per breakdown (" + ", ".join(names) + "): the sums and number of the entries left out of "
                       "its top; top entries plus other add up to the totals."})


def _totals_by_key(data_key: str) -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Nested(TotalsSchema), data_key=data_key)


class _Totals(Schema):
    """The flat totals of a report: `obj.totals` spelled out as totalCost, callCount, …"""

    total_cost = Money(attribute="totals.cost", data_key="totalCost")
    total_tokens = fields.Integer(attribute="totals.tokens", data_key="totalTokens")
    call_count = fields.Integer(attribute="totals.calls", data_key="callCount")
    failure_count = fields.Integer(attribute="totals.failures", data_key="failureCount")
    unpriced_count = fields.Integer(attribute="totals.unpriced", data_key="unpricedCount",
                                    metadata={"description": "Calls with no known price: not in totalCost."})


class PeriodSchema(_Totals):
    start = fields.Date(data_key="startDate")
    end = fields.Date(data_key="endDate")


class ChangeSchema(Schema):
    cost = Money()
    cost_percent = Money(data_key="costPercent", allow_none=True, metadata={
        "example": "12.5", "description": "Rounded to 0.01; null when the previous period cost 0."})
    tokens = fields.Integer()
    calls = fields.Integer()


class SummarySchema(PeriodSchema):
    by_model = _totals_by_key("byModel")
    by_provider = _totals_by_key("byProvider")
    by_assistant = fields.List(fields.Nested(AssistantTotalsSchema), data_key="byAssistant")
    by_user = fields.List(fields.Nested(UserTotalsSchema), data_key="byUser")
    other = _other("byModel", "byProvider", "byAssistant", "byUser")
    previous = fields.Nested(PeriodSchema, data_key="previousPeriod")
    change = fields.Nested(ChangeSchema)


class DayTotalSchema(Schema):
    date = fields.Date()
    cost = Money()
    tokens = fields.Integer()
    calls = fields.Integer()
    failures = fields.Integer()
    unpriced = fields.Integer()
    split = fields.List(Money(), metadata={
        "description": "Only with `by`: the day's cost of each of `keys`, in their order (\"0\" when a key had no "
                       "calls that day); `split` and `other` add up exactly to `cost`."})
    other = Money(metadata={"description": "Only with `by`: the day's cost of every key not in `keys`."})


class DailySchema(Schema):
    by = fields.String(metadata={"description": "Only with `by`: the key each day is split by."})
    # Not read as `keys`: a plain answer is a dict, whose `keys` method marshmallow would find.
    split_keys = fields.List(fields.String(allow_none=True), data_key="keys", metadata={
        "description": "Only with `by`: the `top` keys of the whole range by cost (ties: calls, then key), most "
                       "first; null is the calls without that key (e.g. without an assistant). Fewer when the "
                       "range has fewer keys."})
    days = fields.List(fields.Nested(DayTotalSchema))

    @pre_dump
    def _split(self, answer: DailySplit | dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if isinstance(answer, DailySplit):
            return {"by": answer.by, "split_keys": answer.keys, "days": answer.days}
        return answer


class PaginationSchema(Schema):
    page = fields.Integer()
    limit = fields.Integer()
    total = fields.Integer(metadata={"description": "Calls matching the filters, on every page."})
    total_pages = fields.Integer(data_key="totalPages", metadata={"description": "0 when nothing matches."})
    total_exact = fields.Boolean(data_key="totalExact", metadata={
        "description": "false when `total` is an estimate: counted exactly up to 10,000 calls, above that from a "
                       "rollup when one has every filter, else the database's estimate."})


class CallRecordSchema(CallOutSchema):
    class Meta:
        exclude = ("duplicate", "differs", "budgets")


class CallPageSchema(Schema):
    records = fields.List(fields.Nested(CallRecordSchema))
    pagination = fields.Nested(PaginationSchema)

    @pre_dump
    def _split(self, page: CallPage, **kwargs: Any) -> dict[str, Any]:
        return {"records": page.records, "pagination": page}


class AssistantBreakdownSchema(PeriodSchema):
    assistant_id = fields.String(data_key="assistantId")
    name = fields.String(allow_none=True)
    start = fields.Date(data_key="startDate", allow_none=True)
    end = fields.Date(data_key="endDate", allow_none=True)
    by_model = _totals_by_key("byModel")
    by_user = fields.List(fields.Nested(UserTotalsSchema), data_key="byUser")
    other = _other("byModel", "byUser")


class ModelBreakdownSchema(PeriodSchema):
    model = fields.String()
    start = fields.Date(data_key="startDate", allow_none=True)
    end = fields.Date(data_key="endDate", allow_none=True)
    by_provider = _totals_by_key("byProvider")
    by_assistant = fields.List(fields.Nested(AssistantTotalsSchema), data_key="byAssistant")
    by_user = fields.List(fields.Nested(UserTotalsSchema), data_key="byUser")
    other = _other("byProvider", "byAssistant", "byUser")


class BreakdownEntrySchema(TotalsSchema):
    key = fields.String(allow_none=True, metadata={"description": "null: calls without this dimension."})
    name = fields.String(allow_none=True, metadata={"description": "by=assistant: its most recent name."})


class BreakdownPageSchema(Schema):
    by = fields.String()
    sort = fields.String()
    start = fields.Date(data_key="startDate")
    end = fields.Date(data_key="endDate")
    entries = fields.List(fields.Nested(BreakdownEntrySchema))
    totals = fields.Nested(TotalsSchema, metadata={"description": "Over every entry of every page."})
    pagination = fields.Nested(PaginationSchema)

    @pre_dump
    def _split(self, page: BreakdownPage, **kwargs: Any) -> dict[str, Any]:
        return {"by": page.by, "sort": page.sort, "start": page.start, "end": page.end, "entries": page.entries,
                "totals": page.totals, "pagination": {"page": page.page, "limit": page.limit, "total": page.keys,
                                                      "total_pages": page.total_pages, "total_exact": True}}


# ---------------------------------------------------------------------------------------------
# Responses of the seed-compatible /analytics routes (snake_case)


class ModelCostSchema(Schema):
    model = fields.String(metadata={"description": "The canonical model: every spelling of it in one entry."})
    total_cost = Money(metadata={"description": "Cost of the priced calls (see unpriced_calls)."})
    total_tokens = fields.Integer()
    calls = fields.Integer()
    unpriced_calls = fields.Integer(metadata={"description": "Calls with no known price, not in total_cost."})


class TotalCostSchema(Schema):
    total_cost = Money(metadata={"description": "Cost of the priced calls (see unpriced_calls)."})
    calls = fields.Integer()
    unpriced_calls = fields.Integer(metadata={"description": "Calls with no known price, not in total_cost."})


class PromotedDimensionSchema(Schema):
    key = fields.String()
    ready = fields.Boolean(metadata={"description": "false while the calls already stored are being counted."})
    promoted_at = fields.DateTime(format="iso", data_key="promotedAt")


class DimensionsSchema(Schema):
    dimensions = fields.List(fields.Nested(PromotedDimensionSchema))
