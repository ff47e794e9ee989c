"""Blueprint `prices`: `GET /api/prices` (the price table) and `POST /api/prices/overrides`."""

from __future__ import annotations

from typing import Any

from flask_smorest import abort

from app.api import ExactNumbersBlueprint
from app.db import get_session
from app.auth import current_principal
from app.pricing import list_prices
from app.pricing.history import list_changes, set_actor
from app.pricing.overrides import Override, OverrideError, upsert_override
from app.schemas.prices import (OverrideInSchema, PriceHistoryQuery, PriceHistorySchema, PriceListSchema, PriceQuery,
                                PriceSchema)

bp = ExactNumbersBlueprint("prices", __name__, url_prefix="/api/prices",
                           description="Prices per million tokens: the catalog and negotiated overrides")


@bp.route("")
@bp.query(PriceQuery)
@bp.response(200, PriceListSchema, description=(
    "Price rows, oldest first per provider, model, tier, kind and company; with `at`, only the row of each "
    "in force then. Which row a call uses: its service tier before `standard`; within a tier its company's "
    "override, then a global override, then the catalog."))
def get_prices(args: dict[str, Any]):
    return {"prices": list_prices(get_session(), **args)}


@bp.route("/overrides", methods=["POST"])
@bp.arguments(OverrideInSchema)
@bp.response(201, PriceSchema, description=(
    "A new override: calls from `validFrom` on are priced with it (calls stored before keep their costs "
    "until `flask costs reprice --all`)."))
@bp.alt_response(200, schema=PriceSchema, description=(
    "An override with the same provider, model, serviceTier, companyId and validFrom existed: its prices "
    "were replaced by these."))
def post_override(override: Override):
    session = get_session()
    try:
        principal = current_principal()
        set_actor(session, f"api key {principal.name} (#{principal.key_id})" if principal else "api")
        stored = upsert_override(session, override)
    except OverrideError as exc:
        named = {"errors": {"json": {field: [str(exc)] for field in exc.fields}}} if exc.fields else {}
        abort(400, message=str(exc), **named)
    session.commit()
    return stored.price, 201 if stored.created else 200


@bp.route("/history")
@bp.query(PriceHistoryQuery)
@bp.response(200, PriceHistorySchema, description=(
    "Every write to the price table, latest first: when, who, what (the row before and after). Kept by the "
    "database itself (a trigger), append-only."))
def price_history(args: dict[str, Any]):
    return {"changes": list_changes(get_session(), **args)}
