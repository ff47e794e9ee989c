"""What the ledger accepts: the years it holds, how many days one answer may span, how deep a
page may start. Checked where input arrives (request schemas, CLI options) with a 400 or a usage
error that says the bound; documented in README ("Bounds").
"""

from __future__ import annotations

from datetime import UTC, date, datetime

# Calls, prices and date ranges lie within these years (UTC). A partition per month exists or is
# made for any of them (names llm_call_log_pYYYYMM, four-digit years).
FIRST_YEAR, LAST_YEAR = 2000, 2199
FIRST_DAY, LAST_DAY = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)
FIRST_MOMENT = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
END_MOMENT = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)  # exclusive
YEARS = f"{FIRST_DAY.isoformat()} … {LAST_DAY.isoformat()} (UTC)"

# A day-by-day answer (GET /api/costs/daily, `costs report --by day`) spans at most this many days.
MAX_DAYS = 3_660
# A page may start at most this many rows in (page × limit): records are newest first, so older
# calls are reached by an earlier endDate, not by reading and skipping the newer ones.
MAX_OFFSET = 100_000


def day_problem(day: date) -> str | None:
    if FIRST_DAY <= day <= LAST_DAY:
        return None
    return f"Must be within {YEARS}, the years the ledger holds."


def moment_problem(moment: datetime) -> str | None:
    if FIRST_MOMENT <= moment < END_MOMENT:
        return None
    return f"Must be within {YEARS}, the years the ledger holds."


def span_problem(first: date, last: date) -> str | None:
    days = (last - first).days + 1
    if days <= MAX_DAYS:
        return None
    return f"A day-by-day answer spans at most {MAX_DAYS:,} days; this range has {days:,}."


def offset_problem(page: int, limit: int) -> str | None:
    if (page - 1) * limit <= MAX_OFFSET:
        return None
    return (f"A page may start at most {MAX_OFFSET:,} rows in (page × limit); narrow the range (an earlier "
            "endDate reaches older calls) instead of paging that deep.")
