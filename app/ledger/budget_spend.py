"""Keeping every budget's spend (`budget_spend`) exactly in step with `llm_call_log`, and recording
the alerts that spend crosses (`budget_alert`), in the transaction that writes the calls.

A call counts against a budget of its company when each of the budget's narrowing fields (user,
assistant, model — the canonical name —, endpoint, API key) is unset or equal to the call's, in
the budget's period that holds the call's timestamp on the calendar of the budget's time zone
(``date_trunc(period, timestamp, timezone)``: DST-correct, a week starts on Monday), from the
budget's ``tracked_from`` on. Unpriced calls count, at 0.

- ingest: :func:`ingest_ctes` adds the calls just inserted (the RETURNING of the insert, in the
  same statement) to their budgets' periods, and records the alerts the new totals reach;
- repricing: :func:`apply_cost_changes` adds the differences between new and old costs, and
  records the alerts they reach;
- a new budget, or a budget whose scope changed: :func:`recount` computes its periods from the raw
  calls, holding a SHARE lock on `llm_call_log` (which waits for the writes in flight and holds
  new ones back until the budget commits), so no call is counted twice or missed.

Alerts are recorded with ``ON CONFLICT DO NOTHING`` on their unique key (budget, period start,
threshold): one per threshold and period, however many writers cross it together. A writer
crossing a threshold holds the lock on the budget's spend row for that period until it commits,
so the writer after it sees the alert and the new total.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.records import AlertRecord, BudgetState

# What a budget's rules read of a call (the ingest statement's insert RETURNs these).
SOURCE_COLUMNS = ("id", "timestamp", "company_id", "user_id", "assistant_id", "endpoint", "canonical_model",
                  "api_key_id", "total_cost")

# The calls of `c` that count against budget `b` (a call-log row or a row shaped like one).
MATCH = """b.company_id = c.company_id
      AND (b.user_id IS NULL OR b.user_id = c.user_id)
      AND (b.assistant_id IS NULL OR b.assistant_id = c.assistant_id)
      AND (b.model IS NULL OR b.model = c.canonical_model)
      AND (b.endpoint IS NULL OR b.endpoint = c.endpoint)
      AND (b.api_key_id IS NULL OR b.api_key_id = c.api_key_id)"""
# The `match_key`s of the budgets a call of `c` may count against (app.models.budgets.MATCH_KEY):
# joining on (company_id, match_key) finds a call's few candidates by hash or index, instead of
# testing every budget of its company against every call.
CANDIDATE_KEYS = ("ARRAY['', 'u:' || c.user_id, 'a:' || c.assistant_id, 'm:' || c.canonical_model, "
                  "'e:' || c.endpoint, 'k:' || c.api_key_id]")

PERIOD_START = "date_trunc(b.period, {moment}, b.timezone)"
_ALERT_FIELDS = "id, company_id, budget_id, threshold, period_start, spent, limit_usd"
PERIOD_END = "((({start}) AT TIME ZONE b.timezone) + CAST('1 ' || b.period AS interval)) AT TIME ZONE b.timezone"


def budgets_of_calls(source: str, columns: str) -> str:
    """SELECT `columns` FROM `source` (as ``c``) joined to the budgets (``b``) its calls count
    against, from their ``tracked_from`` on: each call's candidate keys are listed first, then
    joined to the budgets on (company_id, match_key) — one hash of the budgets, whatever the plan's
    estimate of the calls (a CTE's is often 1 row, which would test each call against each of its
    company's budgets in a loop). Calls of companies without budgets are left out first."""
    return f"""SELECT {columns}
    FROM (SELECT c.*, candidate.match_key FROM {source} c CROSS JOIN LATERAL unnest({CANDIDATE_KEYS})
          AS candidate(match_key)
          WHERE c.company_id IN (SELECT company_id FROM budget) OFFSET 0) c
    JOIN budget b ON b.company_id = c.company_id AND b.match_key = c.match_key
    WHERE {MATCH} AND c.timestamp >= b.tracked_from"""


def alerts_sql(spend: str) -> str:
    """An INSERT of the alerts reached by the spend rows of `spend` (budget_id, period_start, spent),
    RETURNING each new alert (the fields of :class:`~app.records.AlertRecord`)."""
    return f"""INSERT INTO budget_alert (company_id, budget_id, period, period_start, period_end, threshold,
                              limit_usd, spent, webhook_url)
    SELECT b.company_id, b.id, b.period, a.period_start, {PERIOD_END.format(start="a.period_start")}, t.threshold,
           b.limit_usd, a.spent, b.webhook_url
    FROM {spend} a JOIN budget b ON b.id = a.budget_id CROSS JOIN unnest(b.thresholds) AS t(threshold)
    WHERE a.spent * 100 >= b.limit_usd * t.threshold
    ORDER BY b.id, a.period_start, t.threshold
    ON CONFLICT ON CONSTRAINT uq_budget_alert_once DO NOTHING
    RETURNING {_ALERT_FIELDS}"""


def ingest_ctes(source: str) -> list[str]:
    """CTEs adding the calls of `source` (the ingest's inserted rows) to their budgets:
    ``budget_calls`` (call id → budget, period), ``budget_added`` (each touched period's new
    total) and ``budget_alerted`` (the alerts recorded)."""
    return [
        f"""budget_calls AS MATERIALIZED (
    {budgets_of_calls(source, f'c.id AS call_id, b.id AS budget_id, {PERIOD_START.format(moment="c.timestamp")} '
                              'AS period_start, coalesce(c.total_cost, 0) AS cost')}
)""",
        """budget_added AS (
    INSERT INTO budget_spend AS s (budget_id, period_start, spent, calls)
    SELECT budget_id, period_start, sum(cost), count(*) FROM budget_calls GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (budget_id, period_start) DO UPDATE SET spent = s.spent + EXCLUDED.spent, calls = s.calls + EXCLUDED.calls
    RETURNING budget_id, period_start, spent
)""",
        f"budget_alerted AS ({alerts_sql('budget_added')})",
    ]


# The ingest statement's account of what it did to budgets: the budget periods it added to, as
# JSON (money as text: JSON numbers would be read back as floats) — [[budget id, period start as
# epoch seconds, period, period start, its end, spent after the statement, limit], …] —, which
# call counted where, as three arrays (call ids, budget ids, period starts as epoch seconds: no
# join in SQL, dictionaries in Python), and the alerts it recorded, [[AlertRecord's fields], …].
_EPOCH = "CAST(extract(epoch FROM {start}) AS bigint)"
INGEST_RESULT = f"""(SELECT json_agg(json_build_array(b.id, {_EPOCH.format(start="ba.period_start")}, b.period,
                                    ba.period_start, {PERIOD_END.format(start="ba.period_start")}, ba.spent::text,
                                    b.limit_usd::text))
        FROM budget_added ba JOIN budget b ON b.id = ba.budget_id),
       (SELECT ARRAY[array_agg(call_id), array_agg(budget_id), array_agg({_EPOCH.format(start="period_start")})]
        FROM budget_calls),
       (SELECT json_agg(json_build_array(id, company_id, budget_id, threshold, period_start, spent::text,
                                         limit_usd::text)) FROM budget_alerted)"""


def states_by_call(states: list[list] | None, counted: list[list[int]] | None) -> dict[int, list[BudgetState]]:
    """The first two columns of :data:`INGEST_RESULT`: each call id's budget states."""
    by_period = {(budget_id, epoch): BudgetState(
        budget_id=budget_id, period=period, period_start=datetime.fromisoformat(start),
        resets_at=datetime.fromisoformat(end), spent=Decimal(spent), limit=Decimal(limit))
        for budget_id, epoch, period, start, end, spent, limit in states or ()}
    by_call: dict[int, list[BudgetState]] = {}
    if counted and counted[0] and counted[0][0] is not None:
        for call_id, budget_id, epoch in zip(*counted, strict=True):
            by_call.setdefault(call_id, []).append(by_period[(budget_id, epoch)])
    return by_call


def alerts_of(rows: list[list] | None) -> list[AlertRecord]:
    """The last column of :data:`INGEST_RESULT` as records."""
    return [AlertRecord(id=id_, company_id=company, budget_id=budget, threshold=threshold,
                        period_start=datetime.fromisoformat(start), spent=Decimal(spent), limit=Decimal(limit))
            for id_, company, budget, threshold, start, spent, limit in rows or ()]


def _records(rows) -> list[AlertRecord]:
    return [AlertRecord(id=row.id, company_id=row.company_id, budget_id=row.budget_id, threshold=row.threshold,
                        period_start=row.period_start, spent=row.spent, limit=row.limit_usd) for row in rows]


@dataclass(frozen=True)
class CallCostChange:
    """A stored call whose cost changed by `delta` (repricing)."""

    timestamp: datetime
    company_id: str
    user_id: str | None
    assistant_id: str | None
    endpoint: str | None
    canonical_model: str
    api_key_id: int | None
    delta: Decimal


_APPLY_CHANGES = f"""
WITH c AS (
    SELECT * FROM unnest(CAST(:timestamps AS timestamptz[]), CAST(:companies AS text[]), CAST(:users AS text[]),
                         CAST(:assistants AS text[]), CAST(:endpoints AS text[]), CAST(:models AS text[]),
                         CAST(:keys AS bigint[]), CAST(:deltas AS numeric[]))
        AS t(timestamp, company_id, user_id, assistant_id, endpoint, canonical_model, api_key_id, delta)
), budget_added AS (
    INSERT INTO budget_spend AS s (budget_id, period_start, spent, calls)
    SELECT budget_id, period_start, sum(delta), 0
    FROM ({budgets_of_calls("c", f'b.id AS budget_id, {PERIOD_START.format(moment="c.timestamp")} AS period_start, '
                                 'c.delta')}) changed
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (budget_id, period_start) DO UPDATE SET spent = s.spent + EXCLUDED.spent
    RETURNING budget_id, period_start, spent
)
{alerts_sql('budget_added')}
"""


def apply_cost_changes(session: Session, changes: Iterable[CallCostChange]) -> list[AlertRecord]:
    """Add repriced calls' cost differences to their budgets; the alerts they reached."""
    changes = [change for change in changes if change.delta]
    if not changes:
        return []
    columns = list(zip(*((c.timestamp, c.company_id, c.user_id, c.assistant_id, c.endpoint, c.canonical_model,
                          c.api_key_id, c.delta) for c in changes), strict=True))
    names = ("timestamps", "companies", "users", "assistants", "endpoints", "models", "keys", "deltas")
    return _records(session.execute(text(_APPLY_CHANGES), dict(zip(names, map(list, columns), strict=True))))


def lock_calls(session: Session) -> None:
    """Wait for the writes to `llm_call_log` in flight, and hold new ones back until the caller's
    transaction ends (reads go on): a budget's recount then sees every call, and every call
    written after it sees the budget."""
    session.execute(text("LOCK TABLE llm_call_log IN SHARE MODE"))


_RECOUNT = f"""
WITH budget_added AS (
    INSERT INTO budget_spend (budget_id, period_start, spent, calls)
    SELECT b.id, {PERIOD_START.format(moment="c.timestamp")}, coalesce(sum(c.total_cost), 0), count(*)
    FROM budget b JOIN llm_call_log c ON {MATCH} AND c.timestamp >= b.tracked_from
    WHERE b.id = ANY(:ids)
    GROUP BY 1, 2
    RETURNING budget_id, period_start, spent
)
{alerts_sql('budget_added')}
"""


def recount(session: Session, budget_ids: Sequence[int]) -> list[AlertRecord]:
    """Compute the budgets' spend, every period from ``tracked_from``, from the raw calls, and
    record the alerts it reaches (the caller holds :func:`lock_calls`); the new alerts."""
    if not budget_ids:
        return []
    session.execute(text("DELETE FROM budget_spend WHERE budget_id = ANY(:ids)"), {"ids": list(budget_ids)})
    return _records(session.execute(text(_RECOUNT), {"ids": list(budget_ids)}))


_ALERTS_NOW = f"""
WITH budget_added AS (
    SELECT s.budget_id, s.period_start, s.spent FROM budget_spend s JOIN budget b ON b.id = s.budget_id
    WHERE s.budget_id = :id AND s.period_start = {PERIOD_START.format(moment="now()")}
)
{alerts_sql('budget_added')}
"""


def alert_current(session: Session, budget_id: int) -> list[AlertRecord]:
    """Record the alerts a budget's current spend reaches (after its limit or thresholds changed)."""
    return _records(session.execute(text(_ALERTS_NOW), {"id": budget_id}))
