"""`GET /healthz`: is the database reachable and at the latest migration?"""

from __future__ import annotations

from marshmallow import Schema, fields

from app.api import Blueprint
from app.db import database
from app.dbstate import database_state

bp = Blueprint("health", __name__, description="Liveness and readiness")


class HealthSchema(Schema):
    status = fields.String(metadata={"example": "ok"})
    database = fields.String(metadata={"example": "reachable"})
    migration = fields.Dict(metadata={"example": {"current": ["0001"], "head": ["0001"], "upToDate": True}})


@bp.route("/healthz")
@bp.doc(security=[])  # no key needed (app.auth.requests.PUBLIC)
@bp.response(200, HealthSchema)
@bp.alt_response(503, schema=HealthSchema, description="Database unreachable or not migrated")
def healthz():
    state = database_state(database().engine)
    body = {
        "status": "ok" if state.up_to_date else "unavailable",
        "database": "reachable" if state.reachable else f"unreachable ({state.error})",
        "migration": {"current": sorted(state.current), "head": sorted(state.head), "upToDate": state.up_to_date},
    }
    return body, 200 if state.up_to_date else 503
