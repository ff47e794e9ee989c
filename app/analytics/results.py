"""What analytics answers with: plain frozen dataclasses (ORM rows never leave the package)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from app.records import CallRecord

ZERO = Decimal(0)


@dataclass(frozen=True)
class Totals:
    """Sums over calls. `cost` counts priced calls only; `unpriced` says how many had no price."""

    cost: Decimal = ZERO
    tokens: int = 0
    calls: int = 0
    failures: int = 0
    unpriced: int = 0


@dataclass(frozen=True, kw_only=True)
class GroupTotals(Totals):
    """Totals of the calls sharing one key (a user, model, provider, endpoint, day …)."""

    key: str | None


@dataclass(frozen=True, kw_only=True)
class AssistantTotals(GroupTotals):
    """Totals of one assistant; `name` is the most recent non-null name it was reported with."""

    name: str | None


@dataclass(frozen=True, kw_only=True)
class Other(Totals):
    """Everything a breakdown's top entries leave out: their sums, and how many keys they are."""

    keys: int = 0


@dataclass(frozen=True)
class Ranked:
    """A breakdown cut to its top entries: the entries, the rest, and how many keys in all."""

    entries: list[GroupTotals]
    other: Other
    keys: int


@dataclass(frozen=True)
class Change:
    cost: Decimal
    cost_percent: Decimal | None  # None when the previous period cost nothing
    tokens: int
    calls: int


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    totals: Totals


@dataclass(frozen=True)
class Summary:
    start: date
    end: date
    totals: Totals
    by_model: dict[str, Totals]
    by_provider: dict[str, Totals]
    by_assistant: list[AssistantTotals]
    by_user: list[GroupTotals]
    other: dict[str, Other]  # breakdown name (byModel …) → what its top entries leave out
    previous: Period
    change: Change


@dataclass(frozen=True)
class DayTotal:
    date: date
    cost: Decimal
    tokens: int
    calls: int
    failures: int
    unpriced: int = 0


@dataclass(frozen=True, kw_only=True)
class SplitDay(DayTotal):
    """A day's totals and its cost split by key: `split[i]` is the cost of the i-th key of its
    :class:`DailySplit` that day (0 without calls), `other` the cost of every other key; the split
    and other add up exactly to `cost`."""

    split: tuple[Decimal, ...]
    other: Decimal


@dataclass(frozen=True)
class DailySplit:
    """Every day of a range, split by `by`'s top `keys` of the whole range (most cost first; a key
    may be None: the calls without that dimension)."""

    by: str
    keys: list[str | None]
    days: list[SplitDay]


@dataclass(frozen=True)
class CallFilters:
    """Which calls count; None means "any". Dates are inclusive UTC days. `model` and `provider`
    match every spelling of the same canonical name."""

    start: date | None = None
    end: date | None = None
    company_id: str | None = None
    user_id: str | None = None
    assistant_id: str | None = None
    model: str | None = None
    provider: str | None = None
    endpoint: str | None = None
    success: bool | None = None
    dimension: tuple[str, str] | None = None  # (promoted metadata key, value)


@dataclass(frozen=True)
class CallPage:
    records: list[CallRecord]
    page: int
    limit: int
    total: int
    total_exact: bool = True  # False: `total` is an estimate (see analytics.list_calls)

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.limit)


@dataclass(frozen=True)
class AssistantBreakdown:
    assistant_id: str
    name: str | None
    start: date | None
    end: date | None
    totals: Totals
    by_model: dict[str, Totals]
    by_user: list[GroupTotals]
    other: dict[str, Other]


@dataclass(frozen=True)
class ModelBreakdown:
    model: str
    start: date | None
    end: date | None
    totals: Totals
    by_provider: dict[str, Totals]
    by_assistant: list[AssistantTotals]
    by_user: list[GroupTotals]
    other: dict[str, Other]


@dataclass(frozen=True)
class ModelCost:
    model: str
    total_cost: Decimal
    total_tokens: int
    calls: int
    unpriced_calls: int


@dataclass(frozen=True)
class BreakdownPage:
    """One page of a breakdown, sorted; `keys` is how many entries there are on every page."""

    by: str
    sort: str
    start: date
    end: date
    entries: list[GroupTotals]
    page: int
    limit: int
    keys: int
    totals: Totals = field(default_factory=Totals)

    @property
    def total_pages(self) -> int:
        return math.ceil(self.keys / self.limit)
