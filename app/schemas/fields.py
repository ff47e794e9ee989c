"""Field types shared by the request and response schemas."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields, validate
from marshmallow.utils import missing as missing_

from app.auth import key_company, scoped_company
from app.bounds import day_problem, moment_problem
from app.db import money_problem
from app.money import money_text

MAX_TOKENS = 10**12
# A decimal number as JSON writes one (no "1_000", "Infinity" or " 2 ").
_DECIMAL = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Money(fields.Field):
    """Exact money as a JSON string (``"0.0235"``): no float rounding on either side.

    On input a string or a JSON number is accepted if the request's JSON was parsed with
    ``parse_float=Decimal`` (see :class:`app.api.ExactNumbersBlueprint`); a Python ``float`` is
    refused, since it already lost the digits the client sent. The value must fit a money column.
    """

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "format": "decimal", "example": "0.0235"} | kwargs.pop("metadata", {})
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: Decimal | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return money_text(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, str) and _DECIMAL.fullmatch(value):
            number = Decimal(value)
        elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            number = Decimal(value)
        else:
            raise ValidationError("Not a decimal number (send a string such as \"2.5\").")
        if problem := money_problem(number):
            raise ValidationError(problem.capitalize() + ".")
        return abs(number) if number.is_zero() else number  # "-0" is 0


class Instant(fields.Field):
    """A moment in time: an ISO date ``YYYY-MM-DD`` (00:00 UTC that day) or an ISO datetime with
    a UTC offset (``…+02:00`` or ``…Z``); loads as an aware UTC datetime."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "example": "2026-03-01"} | kwargs.pop("metadata", {})
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.isoformat()

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise ValidationError("Not a date or datetime string.")
        try:
            if _DATE.fullmatch(value):
                day = date.fromisoformat(value)
                return datetime(day.year, day.month, day.day, tzinfo=UTC)
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError("Not an ISO 8601 date (YYYY-MM-DD) or datetime.") from None
        if moment.tzinfo is None:
            raise ValidationError("A datetime needs a UTC offset (e.g. 2026-03-01T09:30:00+00:00); "
                                  "a bare date means 00:00 UTC.")
        if problem := moment_problem(moment):  # compared before converting: year 1 at +05:00 has no UTC
            raise ValidationError(problem)
        return moment.astimezone(UTC)


class Day(fields.Date):
    """A date (``YYYY-MM-DD``) within the years the ledger holds (app.bounds)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        day = super()._deserialize(value, attr, data, **kwargs)
        if problem := day_problem(day):
            raise ValidationError(problem)
        return day


class Moment(fields.AwareDateTime):
    """An ISO datetime with a UTC offset within the years the ledger holds (app.bounds)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        if problem := moment_problem(moment):
            raise ValidationError(problem)
        return moment


class StrictBoolean(fields.Boolean):
    """Only JSON ``true``/``false``: ``"yes"`` or ``1`` is a type error, not a guess."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean (use true or false).")
        return value


class StrictInteger(fields.Integer):
    """A JSON integer: rejects strings, floats and booleans."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise ValidationError("Not a valid integer.")
        return super()._deserialize(value, attr, data, **kwargs)


class CompanyId(fields.String):
    """``companyId``, scoped by the request's API key (app.auth.scoped_company): a key bound to a
    company acts on it only — omitted, the field is that company; another one (or null, meaning
    every company) is a 403. For a platform key, or outside a request, the value as sent and
    `default` when omitted."""

    def __init__(self, *, default: str | None = None, allow_none: bool = False, **kwargs: Any) -> None:
        super().__init__(data_key="companyId", allow_none=allow_none, validate=validate.Length(min=1, max=200),
                         load_default=lambda: key_company() or default, **kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        company = super().deserialize(value, attr, data, **kwargs)
        return scoped_company(company, sent=value is not missing_)


def TokenCount(**kwargs: Any) -> StrictInteger:  # noqa: N802 (a field factory reads like a type)
    return StrictInteger(validate=validate.Range(min=0, max=MAX_TOKENS), **kwargs)


def Text(max_length: int, **kwargs: Any) -> fields.String:  # noqa: N802
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)
