"""Peaks: a week's grid of cost and calls, weekday (Monday … Sunday) × local hour, in any IANA zone.

From the company hour rollup: each UTC hour bucket is placed at the weekday and local hour its
start falls in (``AT TIME ZONE``: DST-correct). In a zone whose offset is not a whole number of
hours (Asia/Kolkata, +05:30) a UTC hour straddles two local hours; it is placed at the one its
start falls in (10:00 UTC, 15:30 in Kolkata: hour 15). The range is local calendar days: the
hour buckets starting from `start` 00:00 to `end` 24:00, local time. Each cell also counts the
hours of the range it holds: in the week DST starts one local hour has none, and in the week it
ends one has two.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from app.analytics.results import ZERO, Totals
from app.insight import queries
from app.insight.results import PeakCell, Peaks

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def zone_problem(name: str) -> str | None:
    """Why `name` is not an IANA time zone, or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)."
    return None


def peaks(session: Session, start: date, end: date, timezone: str = "UTC", company_id: str | None = None) -> Peaks:
    """The weekday × local-hour grid of [start, end] (local calendar days in `timezone`)."""
    if problem := zone_problem(timezone):
        raise ValueError(problem)
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    zone = ZoneInfo(timezone)
    lower = datetime.combine(start, time(), zone).astimezone(UTC)
    upper = datetime.combine(end + timedelta(days=1), time(), zone).astimezone(UTC)
    found = {(row.weekday, row.hour): row
             for row in queries.weekday_hour_grid(session, lower, upper, timezone, company_id)}
    cells = []
    for weekday in range(1, 8):
        row = []
        for hour in range(24):
            cell = found.get((weekday, hour))
            row.append(PeakCell(weekday, hour, cell.cost, int(cell.calls), int(cell.hours)) if cell
                       else PeakCell(weekday, hour, ZERO, 0, 0))
        cells.append(row)
    everything = [cell for row in cells for cell in row]
    return Peaks(timezone, start, end, cells, Totals(cost=sum((c.cost for c in everything), ZERO),
                                                     calls=sum(c.calls for c in everything)))
