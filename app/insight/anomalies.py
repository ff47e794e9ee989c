"""Anomalies: days or hours whose cost departs from a robust baseline, and what explains them.

The baseline of a bucket is the same bucket of the week in each of the :data:`BASELINE_WEEKS`
weeks before it (the same weekday; for hours, the same weekday and UTC hour), from the company
rollup, counting only weeks from the first day with calls on: weekly seasonality (quiet weekends,
busy mornings) is in the baseline, not flagged. With `m` its median and MAD the median absolute
deviation from `m`, a bucket of cost `x` is an anomaly when

    |x - m| > k · 1.4826 · MAD   and   |x - m| >= min_departure

(1.4826 · MAD estimates a standard deviation under normal noise, unmoved by a heavy tail; k
defaults to :data:`K`, 3.5 as in Iglewicz and Hoaglin's modified z-score; the minimum departure,
in dollars, keeps near-zero noise from being flagged, since a flat baseline has a MAD of 0). A
bucket needs :data:`MIN_BASELINE` weeks of baseline to be judged.

Each anomaly is explained by the model, the user and the assistant whose cost departed most from
what was expected of them, in the anomaly's direction: a value's expected cost is the bucket's
expected cost (the median) × the value's share of the cost over the baseline's days, so the
departures of all values add up to the bucket's. Days: from the day rows (model, assistant,
user_model). A bucket still under way (today, this hour) or to come is not judged: it would
always look low. Hours: the hour's own calls from the raw log, for at most
:data:`EXPLAINED_HOURS` hours (the largest departures); shares from the day rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from statistics import median

from sqlalchemy.orm import Session

from app.analytics.results import ZERO
from app.insight import queries
from app.insight.results import Anomalies, Anomaly, Driver

GRAINS = ("day", "hour")
K = Decimal("3.5")
MAD_SCALE = Decimal("1.4826")
MIN_DEPARTURE = Decimal("1")
BASELINE_WEEKS = 8
MIN_BASELINE = 4
EXPLAINED_HOURS = 24
MAX_HOUR_DAYS = 31  # an hour-grain range spans at most this many days
SCORE = Decimal("0.01")
ESTIMATE = Decimal("0.000001")


def _buckets(start: date, end: date, grain: str) -> list[date | datetime]:
    if grain == "day":
        return [start + timedelta(days=n) for n in range((end - start).days + 1)]
    first = datetime.combine(start, time(), UTC)
    return [first + timedelta(hours=n) for n in range(((end - start).days + 1) * 24)]


def _day(bucket: date | datetime) -> date:
    return bucket.date() if isinstance(bucket, datetime) else bucket


def _ended(bucket: date | datetime, grain: str, now: datetime) -> bool:
    if grain == "day":
        return datetime.combine(bucket + timedelta(days=1), time(), UTC) <= now
    return bucket + timedelta(hours=1) <= now


def anomalies(session: Session, start: date, end: date, grain: str = "day", company_id: str | None = None, *,
              k: Decimal = K, min_departure: Decimal = MIN_DEPARTURE, now: datetime | None = None) -> Anomalies:
    """The buckets of [start, end] (inclusive UTC days) whose cost is anomalous, oldest first. Only
    buckets that have ended by `now` are judged: today's few hours are not a quiet day."""
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {', '.join(GRAINS)}")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if grain == "hour" and (end - start).days + 1 > MAX_HOUR_DAYS:
        raise ValueError(f"an hour-grain range spans at most {MAX_HOUR_DAYS} days")
    week = timedelta(weeks=1)
    lower = start - BASELINE_WEEKS * week
    if grain == "day":
        costs = queries.company_costs(session, grain, lower, end + timedelta(days=1), company_id)
    else:
        found = queries.company_costs(session, grain, datetime.combine(lower, time(), UTC),
                                      datetime.combine(end + timedelta(days=1), time(), UTC), company_id)
        costs = {moment.astimezone(UTC): cost for moment, cost in found.items()}
    active = queries.first_active_day(session, company_id)
    checked, flagged = 0, []
    now = now or datetime.now(UTC)
    for bucket in _buckets(start, end, grain):
        if not _ended(bucket, grain, now):
            break
        baseline = [costs.get(bucket - n * week, ZERO) for n in range(1, BASELINE_WEEKS + 1)
                    if active is not None and _day(bucket - n * week) >= active]
        if len(baseline) < MIN_BASELINE:
            continue
        checked += 1
        actual, expected = costs.get(bucket, ZERO), median(baseline)
        mad = median([abs(cost - expected) for cost in baseline])
        departure = actual - expected
        if abs(departure) > k * MAD_SCALE * mad and abs(departure) >= min_departure:
            score = (departure / (MAD_SCALE * mad)).quantize(SCORE, ROUND_HALF_EVEN) if mad else None
            flagged.append((bucket, actual, expected, mad, score, [_day(bucket - n * week)
                                                                  for n in range(1, len(baseline) + 1)]))
    explained = flagged if grain == "day" else sorted(
        flagged, key=lambda f: abs(f[1] - f[2]), reverse=True)[:EXPLAINED_HOURS]
    drivers = {name: queries.drivers(session, grain, column, [f[0] for f in explained], [f[2] for f in explained],
                                     [1 if f[1] > f[2] else -1 for f in explained], [f[5] for f in explained],
                                     company_id) if explained else {}
               for name, column in queries.EXPLAINED_BY.items()}

    def driver(name: str, bucket: date | datetime) -> Driver | None:
        found = drivers[name].get(bucket)
        return Driver(found[0], found[1], found[2].quantize(ESTIMATE)) if found else None

    return Anomalies(
        grain=grain, start=start, end=end, k=k, min_departure=min_departure, baseline_weeks=BASELINE_WEEKS,
        checked=checked,
        anomalies=[Anomaly(bucket=bucket, actual=actual, expected=expected, mad=mad, score=score,
                           direction="up" if actual > expected else "down", model=driver("model", bucket),
                           user=driver("user", bucket), assistant=driver("assistant", bucket))
                   for bucket, actual, expected, mad, score, _ in flagged])
