"""Insight: what the cost history says beyond its sums — trends, top spenders and how they
changed, when in the week spend peaks, where the month is heading, and which days or hours were
out of line, and why.

Services take a `Session` (and, where time matters, the clock as a parameter), import nothing from
Flask, and return frozen dataclasses (:mod:`app.insight.results`). Everything is read from the
rollups (:mod:`app.insight.queries`, built on :mod:`app.analytics`), so answers cost the same at
ten million calls as at ten thousand; raw calls are read only at the edges said there.
"""

from __future__ import annotations

from app.insight.anomalies import anomalies
from app.insight.forecast import forecast
from app.insight.peaks import WEEKDAYS, peaks, zone_problem
from app.insight.results import (
    Anomalies,
    Anomaly,
    Driver,
    Forecast,
    PeakCell,
    Peaks,
    Spender,
    TopSpenders,
    Trend,
    TrendBucket,
)
from app.insight.top import top_spenders
from app.insight.trends import trends

__all__ = ["Anomalies", "Anomaly", "Driver", "Forecast", "PeakCell", "Peaks", "Spender", "TopSpenders", "Trend",
           "TrendBucket", "WEEKDAYS", "anomalies", "forecast", "peaks", "top_spenders", "trends", "zone_problem"]
