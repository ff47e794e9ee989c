"""The analytics questions (the per-user one for a busy and for a median user): how we answer
them, and the naive GROUP BY on the raw calls.

"Ours" is the product as a user meets it: an HTTP request to gunicorn (routing, validation,
query, serialisation included) or ``flask costs report`` run in-process. "Naive" is the seed
design: plain aggregates over ``llm_call_log`` sent with psycopg, one statement per part of the
answer, no HTTP. Each question also says how to check that both gave the same answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

RANGE = "timestamp >= %(start)s AND timestamp < %(end)s"
# The ledger answers by canonical names (one row per model whatever its spelling): so does naive,
# from the columns the ledger fills at ingest.
MODEL, PROVIDER = "canonical_model", "canonical_provider"
TOTALS = ("coalesce(sum(total_cost), 0), coalesce(sum(total_tokens), 0), count(*), "
          "count(*) FILTER (WHERE NOT success)")


@dataclass(frozen=True)
class Question:
    name: str
    ours: str  # what is timed: "GET <path>" or "flask <args>"
    naive: tuple[str, ...]  # SQL statements, all run for one answer
    params: dict[str, Any]
    # (our answer parsed, the naive statements' rows) → what differs, or None when they agree.
    check: Callable[[Any, list[list[tuple]]], str | None]
    check_args: tuple[str, ...] = field(default=())  # CLI only: the arguments of a parseable run
    # "aggregate": many calls summed, against the naive GROUP BY on the raw calls; "narrow": a few
    # rows the raw table finds by an index, against that plain index query.
    kind: str = "aggregate"

    @property
    def is_cli(self) -> bool:
        return self.ours.startswith("flask ")

    @property
    def path(self) -> str:
        return self.ours.removeprefix("GET ")

    @property
    def cli_args(self) -> list[str]:
        return self.ours.split()[3:]  # after "flask --app wsgi"


@dataclass(frozen=True)
class Window:
    """The dates and the subjects the questions ask about, all inside the data's period [first, last]."""

    first: date
    last: date
    busy_user: str  # the user with the most calls
    median_user: str  # a user of median activity
    busy_assistant: str = ""
    busy_model: str = ""  # canonical
    busy_provider: str = ""  # canonical
    busy_company: str = ""

    @classmethod
    def of(cls, first: date, last: date, profile: Any) -> Window:
        return cls(first, last, profile.busy_user, profile.median_user, profile.busy_assistant, profile.busy_model,
                   profile.busy_provider, profile.busy_company)

    @property
    def month(self) -> tuple[date, date]:
        """The last whole calendar month of the period."""
        end = self.last.replace(day=1) - timedelta(days=1)
        if self.last == _month_end(self.last):
            end = self.last
        return end.replace(day=1), end

    @property
    def last_30_days(self) -> tuple[date, date]:
        return self.last - timedelta(days=29), self.last


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _bounds(first: date, last: date) -> dict[str, datetime]:
    return {"start": datetime.combine(first, time.min, tzinfo=UTC),
            "end": datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)}


def _money(value: Any) -> Decimal:
    """A cost of an answer; None (a row whose calls are all unpriced has no cost) counts as 0, as
    the naive SUM's coalesce does."""
    return Decimal(0) if value is None else Decimal(str(value))


def _differs(what: str, ours: Any, naive: Any) -> str | None:
    return None if ours == naive else f"{what}: ours {ours} vs naive {naive}"


def _check_top(what: str, ours: dict[Any, tuple[Decimal, int]], other: dict | None,
               naive: dict[Any, tuple[Decimal, int]]) -> str | None:
    """A breakdown answered as its top entries plus `other` (the sums and number of the entries
    left out; None or absent when nothing is): each top entry equals naive's, and the rest of
    naive's entries add up to `other`."""
    rest = {key: value for key, value in naive.items() if key not in ours}
    other = other or {}
    return (_differs(what, ours, {key: naive.get(key) for key in ours})
            or _differs(f"{what}, the rest (entries, cost, calls)",
                        (other.get("keys", 0), _money(other.get("cost")), other.get("calls", 0)),
                        (len(rest), sum((cost for cost, _ in rest.values()), Decimal(0)),
                         sum(calls for _, calls in rest.values()))))


def _check_summary(answer: dict, rows: list[list[tuple]]) -> str | None:
    totals, previous, by_model, by_user = rows[0][0], rows[1][0], rows[2], rows[5]
    other = answer.get("other", {})
    return (_differs("total cost", _money(answer["totalCost"]), totals[0])
            or _differs("calls", answer["callCount"], totals[2])
            or _differs("previous period cost", _money(answer["previousPeriod"]["totalCost"]), previous[0])
            or _check_top("cost and calls by model",
                          {m: (_money(t["cost"]), t["calls"]) for m, t in answer["byModel"].items()},
                          other.get("byModel"), {m: (cost, calls) for m, cost, _, calls, *_ in by_model})
            or _check_top("cost and calls by user", {u["id"]: (_money(u["cost"]), u["calls"]) for u in answer["byUser"]},
                          other.get("byUser"), {u: (cost, calls) for u, cost, _, calls, *_ in by_user}))


def _check_daily(answer: dict, rows: list[list[tuple]]) -> str | None:
    ours = {d["date"]: (_money(d["cost"]), d["calls"]) for d in answer["days"] if d["calls"]}
    return _differs("days", ours, {day.isoformat(): (cost, calls) for day, cost, _, calls, _ in rows[0]})


def _check_user(answer: list, rows: list[list[tuple]]) -> str | None:
    return _differs("cost by model", {m["model"]: _money(m["total_cost"]) for m in answer},
                    {model: cost for model, cost, _ in rows[0]})


def _check_total(answer: dict, rows: list[list[tuple]]) -> str | None:
    # The 30-day window slides between the two reads: allow the calls of those few seconds.
    ours, naive = _money(answer["total_cost"]), rows[0][0][0]
    return None if abs(ours - naive) <= Decimal("1e-3") * max(abs(naive), Decimal(1)) else \
        f"total: ours {ours} vs naive {naive}"


def _check_report(answer: dict, rows: list[list[tuple]]) -> str | None:
    return _check_top("cost and calls by user", {r["key"]: (_money(r["cost"]), r["calls"]) for r in answer["rows"]},
                      answer.get("other"), {key: (cost, calls) for key, cost, _, calls, *_ in rows[0]})


def _check_one(by: str, other_of: str) -> Callable[[dict, list[list[tuple]]], str | None]:
    """A single assistant's or model's answer: its totals, and one breakdown's top entries and other."""
    def check(answer: dict, rows: list[list[tuple]]) -> str | None:
        totals, groups = rows[0][0], rows[1]
        entries = answer[other_of]
        ours = ({k: (_money(v["cost"]), v["calls"]) for k, v in entries.items()} if isinstance(entries, dict)
                else {e["id"]: (_money(e["cost"]), e["calls"]) for e in entries})
        return (_differs("total cost", _money(answer["totalCost"]), totals[0])
                or _differs("calls", answer["callCount"], totals[2])
                or _check_top(f"cost and calls by {by}", ours, answer["other"][other_of],
                              {key: (cost, calls) for key, cost, _, calls, *_ in groups}))
    return check


def _check_breakdown(answer: dict, rows: list[list[tuple]]) -> str | None:
    page, keys = rows[0], rows[1][0][0]
    return (_differs("entries of page 1", [(e["key"], _money(e["cost"]), e["calls"]) for e in answer["entries"]],
                     [(key, cost, calls) for key, cost, _, calls, _ in page])
            or _differs("entries in all", answer["pagination"]["total"], keys))


def _check_records(answer: dict, rows: list[list[tuple]]) -> str | None:
    return (_differs("the page's calls", [r["id"] for r in answer["records"]], [row[0] for row in rows[0]])
            or (None if answer["pagination"]["total"] >= len(rows[0]) else "total below the page"))


def questions(window: Window) -> list[Question]:
    month_first, month_last = window.month
    month = _bounds(month_first, month_last)
    length = month_last - month_first + timedelta(days=1)
    before = _bounds(month_first - length, month_first - timedelta(days=1))
    recent_first, recent_last = window.last_30_days
    recent = _bounds(recent_first, recent_last)
    grouped = f"SELECT {{key}}, {TOTALS} FROM llm_call_log WHERE {RANGE} {{where}} GROUP BY {{key}}"
    report_args = ["--since", month_first.isoformat(), "--until", month_last.isoformat(), "--by", "user"]
    page = {"startDate": month_first, "endDate": month_last}
    recent_dates = {"startDate": recent_first, "endDate": recent_last}
    week = {"startDate": window.last - timedelta(days=6), "endDate": window.last}
    one = f"SELECT {TOTALS} FROM llm_call_log WHERE {RANGE} {{where}}"
    records = [
        ("busy user", {"userId": window.busy_user}, "user_id = %(value)s", window.busy_user),
        ("median user", {"userId": window.median_user}, "user_id = %(value)s", window.median_user),
        ("busiest assistant", {"assistantId": window.busy_assistant}, "assistant_id = %(value)s", window.busy_assistant),
        ("busiest model", {"model": window.busy_model}, f"{MODEL} = %(value)s", window.busy_model),
        ("busiest provider", {"provider": window.busy_provider}, f"{PROVIDER} = %(value)s", window.busy_provider),
        ("failed calls", {"success": "false"}, "NOT success", None),
        ("busiest company", {"companyId": window.busy_company}, "company_id = %(value)s", window.busy_company),
        ("last 7 days", week, "timestamp >= %(start)s AND timestamp < %(end)s", None),
        ("busy user, last 7 days", {"userId": window.busy_user, **week},
         "user_id = %(value)s AND timestamp >= %(start)s AND timestamp < %(end)s", window.busy_user),
    ]
    return [
        Question(
            "summary, one month",
            "GET /api/costs/summary?" + urlencode(page),
            (
                f"SELECT {TOTALS}, count(*) FILTER (WHERE price_id IS NULL) FROM llm_call_log WHERE {RANGE}",
                (f"SELECT {TOTALS} FROM llm_call_log "
                "WHERE timestamp >= %(before_start)s AND timestamp < %(before_end)s"),
                grouped.format(key=MODEL, where=""),
                grouped.format(key=PROVIDER, where=""),
                # The assistant's name rides along in the same GROUP BY (names are constant per id here).
                (f"SELECT assistant_id, max(assistant_name), {TOTALS} FROM llm_call_log WHERE {RANGE} "
                "GROUP BY assistant_id"),
                grouped.format(key="user_id", where=""),
            ),
            month | {"before_start": before["start"], "before_end": before["end"]},
            _check_summary,
        ),
        Question(
            f"daily, {(window.last - window.first).days + 1} days",
            "GET /api/costs/daily?" + urlencode({"startDate": window.first, "endDate": window.last}),
            ((f"SELECT (timestamp AT TIME ZONE 'UTC')::date AS day, {TOTALS} FROM llm_call_log WHERE {RANGE} "
             "GROUP BY 1 ORDER BY 1"),),
            _bounds(window.first, window.last),
            _check_daily,
        ),
        Question(
            "busiest assistant, 30 days",
            f"GET /api/costs/by-assistant/{quote(window.busy_assistant, safe='')}?" + urlencode(recent_dates),
            (one.format(where="AND assistant_id = %(value)s"),
             grouped.format(key=MODEL, where="AND assistant_id = %(value)s"),
             grouped.format(key="user_id", where="AND assistant_id = %(value)s")),
            recent | {"value": window.busy_assistant},
            _check_one("model", "byModel"),
        ),
        Question(
            "busiest model, 30 days",
            f"GET /api/costs/by-model/{quote(window.busy_model, safe='/')}?" + urlencode(recent_dates),
            (one.format(where=f"AND {MODEL} = %(value)s"),
             grouped.format(key="user_id", where=f"AND {MODEL} = %(value)s"),
             grouped.format(key=PROVIDER, where=f"AND {MODEL} = %(value)s"),
             grouped.format(key="assistant_id", where=f"AND {MODEL} = %(value)s")),
            recent | {"value": window.busy_model},
            _check_one("user", "byUser"),
        ),
        Question(
            "breakdown by user, page 1 of a month",
            "GET /api/costs/breakdown?" + urlencode({"by": "user", **page, "limit": 50}),
            (f"SELECT user_id, {TOTALS} FROM llm_call_log WHERE {RANGE} GROUP BY user_id "
             "ORDER BY 2 DESC, 4 DESC, user_id ASC NULLS LAST LIMIT 50",
             f"SELECT count(DISTINCT user_id) + max(CASE WHEN user_id IS NULL THEN 1 ELSE 0 END) "
             f"FROM llm_call_log WHERE {RANGE}"),
            month,
            _check_breakdown,
        ),
        Question(
            "rolling 30-day total",
            "GET /analytics/cost/total",
            (("SELECT coalesce(sum(total_cost), 0) FROM llm_call_log "
             "WHERE timestamp > now() - interval '30 days' AND timestamp <= now()"),),
            {},
            _check_total,
        ),
        Question(
            "report by user, one month",
            "flask --app wsgi costs report " + " ".join(report_args),
            ((f"SELECT user_id, {TOTALS}, count(*) FILTER (WHERE price_id IS NULL) FROM llm_call_log "
             f"WHERE {RANGE} GROUP BY user_id ORDER BY 2 DESC"),),
            month,
            _check_report,
            check_args=("costs", "report", *report_args, "--format", "json"),
        ),
        *(Question(
            f"{who} user by model, 30 days",
            f"GET /analytics/cost/user/{quote(user, safe='')}?" + urlencode(recent_dates),
            ((f"SELECT {MODEL}, coalesce(sum(total_cost), 0), coalesce(sum(total_tokens), 0) FROM llm_call_log "
             f"WHERE user_id = %(user_id)s AND {RANGE} GROUP BY {MODEL} ORDER BY 2 DESC"),),
            recent | {"user_id": user},
            _check_user,
            kind="narrow",
        ) for who, user in (("busy", window.busy_user), ("median", window.median_user))),
        Question(
            "HTTP floor: one tiny query (GET /api/dimensions)",
            "GET /api/dimensions",
            ("SELECT key, ready, promoted_at FROM promoted_dimension ORDER BY key",),
            {},
            lambda answer, rows: _differs("dimensions", len(answer["dimensions"]), len(rows[0])),
            kind="narrow",
        ),
        *(Question(
            f"records page: {name}",
            "GET /api/costs?" + urlencode({**query, "limit": 50}),
            (f"SELECT * FROM llm_call_log WHERE {condition} ORDER BY timestamp DESC, id DESC LIMIT 50",),
            ({"value": value} if value is not None else {}) | _bounds(week["startDate"], week["endDate"]),
            _check_records,
            kind="narrow",
        ) for name, query, condition, value in records),
    ]
