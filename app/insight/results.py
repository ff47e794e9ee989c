"""What insight answers with: plain frozen dataclasses (money `Decimal`, shares and scores `Decimal`
rounded to two places; ORM rows never leave the package)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from app.analytics.results import Change, Totals


@dataclass(frozen=True)
class TrendBucket:
    """One bucket of a trend: its first and last day, its totals, and the change from the bucket before."""

    start: date
    end: date
    totals: Totals
    change: Change


@dataclass(frozen=True)
class Trend:
    grain: str  # day, week (ISO, from Monday) or month
    start: date  # the first day of the first bucket (the range, widened to whole buckets)
    end: date  # the last day of the last bucket
    buckets: list[TrendBucket]
    totals: Totals


@dataclass(frozen=True)
class Spender:
    """One of the top entries of a period, with its share of the total and its previous period."""

    key: str | None  # None: the calls without this dimension (no user, no assistant, no endpoint)
    name: str | None  # an assistant's latest name
    totals: Totals
    share: Decimal | None  # percent of the period's cost; None when the period cost nothing
    previous: Totals  # the same key in the previous period of the same length
    change: Change
    new: bool  # no calls at all in the previous period


@dataclass(frozen=True)
class TopSpenders:
    by: str
    start: date
    end: date
    previous_start: date
    previous_end: date
    entries: list[Spender]
    keys: int  # how many keys had calls in the period
    totals: Totals
    previous_totals: Totals
    change: Change


@dataclass(frozen=True)
class PeakCell:
    """A weekday and local hour: the cost and calls of the UTC hour buckets that start in it, and
    how many such hours the range holds (DST makes one local hour absent, another doubled)."""

    weekday: int  # 1 Monday … 7 Sunday (ISO)
    hour: int  # local hour, 0 … 23
    cost: Decimal
    calls: int
    hours: int


@dataclass(frozen=True)
class Peaks:
    timezone: str
    start: date  # local calendar days
    end: date
    cells: list[list[PeakCell]]  # 7 weekdays (Monday first) × 24 local hours
    totals: Totals

    @property
    def busiest(self) -> PeakCell | None:
        """The cell with the most cost (None when the range cost nothing)."""
        best = max((cell for row in self.cells for cell in row), key=lambda cell: (cell.cost, cell.calls))
        return best if best.cost or best.calls else None


@dataclass(frozen=True)
class Forecast:
    month: date  # its first day
    now: datetime  # the cut-off: spend is counted to here
    filter: tuple[str, str] | None  # (userId|assistantId|model|endpoint, value), or None: the company's spend
    spent: Decimal  # from the month's start to `now`
    forecast: Decimal  # the month-end total expected
    low: Decimal  # a range for the month-end total
    high: Decimal
    daily_rates: tuple[Decimal, ...]  # expected cost of a day, Monday … Sunday, at the recent level
    history_days: int  # the days of history the rates were read from
    method: str


@dataclass(frozen=True)
class Driver:
    """The value of one dimension that moved a bucket's cost most: its cost in the bucket, the
    cost expected of it (the bucket's expected cost × its share of the baseline's), and the difference."""

    key: str | None
    actual: Decimal
    expected: Decimal

    @property
    def departure(self) -> Decimal:
        return self.actual - self.expected


@dataclass(frozen=True)
class Anomaly:
    bucket: datetime | date  # a UTC day, or the start of a UTC hour
    actual: Decimal
    expected: Decimal  # the baseline's median
    mad: Decimal  # the baseline's median absolute deviation
    score: Decimal | None  # (actual - expected) / (1.4826 × MAD); None when the MAD is 0
    direction: str  # "up" or "down"
    model: Driver | None  # None: not explained (beyond the bound on hours explained)
    user: Driver | None
    assistant: Driver | None


@dataclass(frozen=True)
class Anomalies:
    grain: str  # day or hour
    start: date
    end: date
    k: Decimal
    min_departure: Decimal
    baseline_weeks: int
    checked: int  # buckets with enough baseline to be judged
    anomalies: list[Anomaly]
