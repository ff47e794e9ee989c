"""Blueprint `analytics`: cost summaries, daily series, call listings and breakdowns."""

from __future__ import annotations

from app.api import Blueprint

bp = Blueprint("analytics", __name__, description="Who spent what, on which model, when")
