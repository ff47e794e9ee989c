"""Top spenders: the users, assistants, models or endpoints that cost most in a period, each with
its share of the period's cost and the change from the previous period of the same length.

The period's top entries are :func:`app.analytics.breakdown`'s first page; the same keys' totals
in the previous period are one more statement (:func:`app.insight.queries.key_totals`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy.orm import Session

from app import analytics
from app.analytics import GROUP_KEYS, CallFilters, change
from app.analytics.results import Totals
from app.analytics.spans import plan
from app.insight import queries
from app.insight.results import Spender, TopSpenders

TOP_BY = ("user", "assistant", "model", "endpoint")
DEFAULT_TOP, MAX_TOP = 10, 100
PERCENT = Decimal("0.01")


def share(part: Decimal, whole: Decimal) -> Decimal | None:
    """`part` in percent of `whole`, to two places (None when `whole` is 0)."""
    return (part * 100 / whole).quantize(PERCENT, ROUND_HALF_EVEN) if whole else None


def top_spenders(session: Session, by: str, start: date, end: date, company_id: str | None = None, *,
                 top: int = DEFAULT_TOP, today: date | None = None) -> TopSpenders:
    """The `top` keys of `by` by cost over [start, end] (inclusive UTC days), with share and change."""
    if by not in TOP_BY:
        raise ValueError(f"cannot rank by {by!r}; choose one of {', '.join(TOP_BY)}")
    if not 1 <= top <= MAX_TOP:
        raise ValueError(f"top must be between 1 and {MAX_TOP}")
    today = today or datetime.now(UTC).date()
    page = analytics.breakdown(session, by, start, end, company_id, page=1, limit=top, today=today)
    length = end - start + timedelta(days=1)
    previous_start, previous_end = start - length, start - timedelta(days=1)
    column = GROUP_KEYS[by]
    where = analytics.rollup_where(session, CallFilters(company_id=company_id))
    before, previous_totals = queries.key_totals(session, queries.covering({column}),
                                                 plan(previous_start, previous_end, today), where, column,
                                                 [entry.key for entry in page.entries])
    entries = []
    for entry in page.entries:
        totals = Totals(entry.cost, entry.tokens, entry.calls, entry.failures, entry.unpriced)
        previous = before.get(entry.key, Totals())
        entries.append(Spender(key=entry.key, name=getattr(entry, "name", None), totals=totals,
                               share=share(totals.cost, page.totals.cost), previous=previous,
                               change=change(totals, previous), new=previous.calls == 0))
    return TopSpenders(by=by, start=start, end=end, previous_start=previous_start, previous_end=previous_end,
                       entries=entries, keys=page.keys, totals=page.totals, previous_totals=previous_totals,
                       change=change(page.totals, previous_totals))
