"""Blueprint `alerts`: `GET /api/alerts` — the thresholds budgets crossed (read scope)."""

from __future__ import annotations

from typing import Any


from app.alerts import list_alerts
from app.api import Blueprint
from app.db import get_session
from app.schemas.alerts import AlertListSchema, AlertQuery

bp = Blueprint("alerts", __name__, url_prefix="/api/alerts", description="Budget alerts")


@bp.route("")
@bp.query(AlertQuery)
@bp.response(200, AlertListSchema)
def get_alerts(args: dict[str, Any]):
    """Alerts newest first: one per budget, threshold and period, with its delivery state."""
    return {"alerts": list_alerts(get_session(), **args)}
