"""Trends: cost, tokens and calls per day, ISO week or month of the company rollup, zero-filled,
each with the change from the bucket before."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from app.analytics import change
from app.analytics.results import ZERO, Totals
from app.analytics.spans import month_end, month_start
from app.insight import queries
from app.insight.results import Trend, TrendBucket

GRAINS = ("day", "week", "month")


def bucket_start(day: date, grain: str) -> date:
    """The first day of the bucket `day` falls in (weeks start on Monday, ISO)."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return month_start(day)
    return day


def bucket_end(first: date, grain: str) -> date:
    """The last day of the bucket starting on `first`."""
    if grain == "week":
        return first + timedelta(days=6)
    if grain == "month":
        return month_end(first)
    return first


def trends(session: Session, start: date, end: date, grain: str = "day", company_id: str | None = None) -> Trend:
    """The buckets of `grain` that [start, end] touches, whole (the range is widened to their first
    and last days), each with the change from the bucket before it (the first one's too)."""
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {', '.join(GRAINS)}")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    first, last = bucket_start(start, grain), bucket_end(bucket_start(end, grain), grain)
    before = bucket_start(first - timedelta(days=1), grain)
    found = queries.trend_buckets(session, grain, before, last, company_id)
    buckets, previous = [], found.get(before, Totals())
    bucket = first
    while bucket <= last:
        totals = found.get(bucket, Totals())
        buckets.append(TrendBucket(bucket, bucket_end(bucket, grain), totals, change(totals, previous)))
        previous, bucket = totals, bucket_end(bucket, grain) + timedelta(days=1)
    return Trend(grain, first, last, buckets, _sum([b.totals for b in buckets]))


def _sum(totals: list[Totals]) -> Totals:
    return Totals(cost=sum((t.cost for t in totals), ZERO), tokens=sum(t.tokens for t in totals),
                  calls=sum(t.calls for t in totals), failures=sum(t.failures for t in totals),
                  unpriced=sum(t.unpriced for t in totals))
