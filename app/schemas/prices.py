"""Price schemas: a `model_price` row out, the `GET /api/prices` query, the override body in.

One row schema serves the API and the CLI: :class:`PriceRowSchema` has snake_case keys (what
`flask costs prices list --format json|csv` prints), :class:`PriceSchema` the same fields in
camelCase (the API). Money is an exact decimal string, null when the price has no such rate.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from app.pricing.catalog import SERVICE_TIERS, TokenPrices
from app.pricing.overrides import Override
from app.schemas.fields import MAX_TOKENS, CompanyId, Instant, Money, StrictInteger, Text, money_text
from app.token_types import PRICE_NAMES, PRICE_TYPES

API_SOURCE = "api"  # the `source` of overrides set through the API (the CLI's are "manual")


def camel(name: str) -> str:
    """``company_id`` → ``companyId``."""
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


PRICE_FIELDS = {price.json: price.name for price in PRICE_TYPES}  # JSON name → column
PRICE_JSON = {price.name: price.json for price in PRICE_TYPES}  # column → JSON name


def json_name(name: str) -> str:
    """A row field's API name: a price's from app.token_types, any other's in camelCase."""
    return PRICE_JSON.get(name) or camel(name)


TIERS_EXAMPLE = {"inputPerMtok": [{"start": 200_000, "price": "6"}]}
TIERS_HELP = ("Prices that replace a base price once the call's input tokens exceed `start` (the whole call "
              "is then billed at the tier price, as providers bill it), per price field.")


class PriceTiers(fields.Field):
    """Threshold tiers out: ``{column: [{"start": tokens, "price": "decimal"}]}``."""

    def __init__(self, *, camel_case: bool = False, **kwargs: Any) -> None:
        self.camel_case = camel_case
        metadata = {"type": "object", "description": TIERS_HELP, "example": TIERS_EXAMPLE}
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: dict[str, list[dict[str, Any]]] | None, attr: str | None, obj: Any,
                   **kwargs: Any) -> dict[str, list[dict[str, Any]]]:
        rename = json_name if self.camel_case else str
        return {rename(column): [{"start": int(step["start"]), "price": money_text(Decimal(step["price"]))}
                                 for step in steps]
                for column, steps in (value or {}).items()}


def _rate(what: str) -> Money:
    return Money(allow_none=True, metadata={"description": f"{what}, USD per million tokens."})


# A schema lists its base classes' fields first, so a row's fields come in three steps: its
# identity, one rate per price type (app.token_types.PRICE_TYPES, in its order), the rest.
class _PriceRowKey(Schema):
    id = fields.Integer()
    provider = fields.String()
    model = fields.String()
    service_tier = fields.String()
    kind = fields.String(metadata={"description": "`catalog` (genai-prices) or `override` (negotiated)."})
    company_id = fields.String(allow_none=True, metadata={"description": "Null: applies to every company."})
    valid_from = fields.DateTime(format="iso", metadata={"description": "Applies to calls from this instant on."})
    window_start = fields.Time(format="iso", allow_none=True, metadata={
        "description": "With windowEnd: a daily window (UTC, [start, end), wrapping past midnight) in which this "
                       "price replaces the all-day one of the same key (e.g. DeepSeek's peak hours); null: all day."})
    window_end = fields.Time(format="iso", allow_none=True, metadata={"description": "End of the daily window."})
    window_zone = fields.String(allow_none=True, metadata={"description": "The window's IANA time zone; null: UTC."})


_PriceRowRates = type("_PriceRowRates", (_PriceRowKey,),
                      {price.name: _rate(price.label) for price in PRICE_TYPES})


class PriceRowSchema(_PriceRowRates):
    """One price row, snake_case keys (the CLI's JSON and CSV)."""

    tiers = PriceTiers()
    source = fields.String()


class PriceSchema(PriceRowSchema):
    """One price row, camelCase keys (the API)."""

    tiers = PriceTiers(camel_case=True)

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        field_obj.data_key = json_name(field_name)


class PriceListSchema(Schema):
    prices = fields.List(fields.Nested(PriceSchema))


class PriceHistoryQuery(Schema):
    provider = fields.String(load_default=None, validate=validate.Length(max=64))
    model = fields.String(load_default=None, validate=validate.Length(max=200),
                          metadata={"description": "The model id as price rows store it."})
    company_id = CompanyId(metadata={"description": "Also this company's overrides (a company key: its own)."})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class PriceChangeSchema(Schema):
    id = fields.Integer()
    changed_at = fields.DateTime(format="iso", data_key="changedAt")
    actor = fields.String(metadata={"description": "The API key's name and id, `cli <os user>`, or the database "
                                                   "user marked (SQL) for a write made outside the ledger."})
    action = fields.String(metadata={"description": "insert, update or delete."})
    price_id = fields.Integer(data_key="priceId")
    provider = fields.String()
    model = fields.String()
    company_id = fields.String(data_key="companyId", allow_none=True)
    old = fields.Dict(allow_none=True, metadata={"description": "The row before (null for an insert)."})
    new = fields.Dict(allow_none=True, metadata={"description": "The row after (null for a delete)."})


class PriceHistorySchema(Schema):
    changes = fields.List(fields.Nested(PriceChangeSchema))


class PriceQuery(Schema):
    provider = fields.String(load_default=None, metadata={"example": "openai"})
    model = fields.String(load_default=None, metadata={
        "description": "The model id as price rows store it (the catalog's id, e.g. `gpt-4o`).", "example": "gpt-4o"})
    service_tier = fields.String(data_key="tier", load_default=None, validate=validate.OneOf(list(SERVICE_TIERS)))
    company_id = CompanyId(metadata={
        "description": "Also list this company's overrides (without it, company overrides are left out)."})
    at = Instant(load_default=None, metadata={
        "description": "Only the rows in force at this instant: a date (00:00 UTC) or a datetime with offset "
                       "(URL-encode `+` as `%2B`, or use `Z`)."})


def _not_negative(value: Decimal) -> None:
    # Not validate.Range: apispec would render its bound through Money as a string "minimum".
    if value < 0:
        raise ValidationError("Must not be negative.")


class TierStepSchema(Schema):
    start = StrictInteger(required=True, validate=validate.Range(min=1, max=MAX_TOKENS),
                          metadata={"description": "Input tokens above which the tier price applies."})
    price = Money(required=True, validate=_not_negative)


def _price_in(key: str, what: str) -> Money:
    return Money(data_key=key, load_default=None, allow_none=True, validate=_not_negative, metadata={
        "description": f"{what}, USD per million tokens, >= 0: a decimal string (recommended) or a JSON number "
                       "(read digit for digit, never through a float)."})


class _OverrideKey(Schema):
    provider = Text(64, required=True, metadata={"example": "openai"})
    model = Text(200, required=True, metadata={
        "example": "gpt-4o", "description": "Stored as the catalog's model id when the catalog knows the model."})
    valid_from = Instant(data_key="validFrom", required=True, metadata={
        "description": "Applies to calls from this instant on: a date (00:00 UTC) or a datetime with offset."})
    company_id = CompanyId(allow_none=True, metadata={
        "description": "Only for this company; null or omitted: every company. A key bound to a company sets "
                       "overrides for its company only (omitted: that company)."})
    service_tier = fields.String(data_key="serviceTier", load_default="standard",
                                 validate=validate.OneOf(list(SERVICE_TIERS)))
    window_start = fields.Time(data_key="windowStart", load_default=None, allow_none=True, metadata={
        "example": "01:00", "description": "With windowEnd: the override applies only in this daily window (UTC, "
                                           "[start, end), wrapping past midnight), e.g. peak hours; omit for all day."})
    window_end = fields.Time(data_key="windowEnd", load_default=None, allow_none=True, metadata={"example": "04:00"})
    window_zone = fields.String(data_key="windowZone", load_default=None, allow_none=True,
                                validate=validate.Length(max=64), metadata={
        "example": "Asia/Shanghai", "description": "The IANA time zone the window's times are in (DST followed); "
                                                   "default UTC."})


# As for a row: the override's identity, one price per price type, then the tiers.
_OverridePrices = type("_OverridePrices", (_OverrideKey,),
                       {price.name: _price_in(price.json, price.label) for price in PRICE_TYPES})


class OverrideInSchema(_OverridePrices):
    tiers = fields.Dict(
        keys=fields.String(validate=validate.OneOf(list(PRICE_FIELDS))),
        values=fields.List(fields.Nested(TierStepSchema), validate=validate.Length(min=1, max=20)),
        load_default=dict, metadata={"description": TIERS_HELP, "example": TIERS_EXAMPLE},
    )

    @validates_schema
    def _check_prices(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("input_per_mtok") is None and data.get("output_per_mtok") is None:
            message = "An override needs inputPerMtok or outputPerMtok (or both)."
            raise ValidationError({"inputPerMtok": [message], "outputPerMtok": [message]})
        problems = {}
        for name, steps in data["tiers"].items():
            if data.get(PRICE_FIELDS[name]) is None:
                problems[name] = [f"Tiers need a base price: {name} is not given."]
            elif len({step["start"] for step in steps}) < len(steps):
                problems[name] = ["Tier starts must differ."]
        if problems:
            raise ValidationError({"tiers": problems})

    @post_load
    def _make_override(self, data: dict[str, Any], **kwargs: Any) -> Override:
        tiers = {PRICE_FIELDS[name]: [{"start": step["start"], "price": money_text(step["price"])}
                                      for step in sorted(steps, key=lambda step: step["start"])]
                 for name, steps in data["tiers"].items()}
        prices = TokenPrices(**{column: data[column] for column in PRICE_NAMES}, tiers=tiers)
        return Override(provider=data["provider"], model=data["model"], valid_from=data["valid_from"],
                        company_id=data["company_id"], service_tier=data["service_tier"], prices=prices,
                        source=API_SOURCE, window_start=data["window_start"], window_end=data["window_end"],
                        window_zone=data["window_zone"])
