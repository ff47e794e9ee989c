"""Budgets in the benchmark (issue 12): BENCH_BUDGETS budgets (1,000 by default) made over the
loaded calls before the HTTP measurements — so ingest keeps them in step as it would in
production — then the pre-flight check through the API, against the naive check that sums the raw
calls of each applicable budget's period, and every budget's spend against its raw sum.

The budgets look like organisations': each company has a monthly company-wide budget (and some a
weekly or daily one too); the rest are narrowed to a user (most), an assistant, a model, an
endpoint, or a user and a model, spread over companies as their calls are (a busy company has more
users, so more budgets); daily, weekly or monthly; in time zones around the world; limits from $1
to $10,000 (log-uniform), so some are spent and some not. Their
scopes, and the scopes the check is asked about, are drawn from a sample of the loaded calls'
(company, user, assistant, model, endpoint), so every check finds the budgets real calls would.
"""

from __future__ import annotations

import json
import random
import time
import urllib.parse
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.budgets import BudgetSpec, create_budget
from app.ledger.budget_spend import MATCH, PERIOD_END, PERIOD_START
from bench.client import Client
from bench.measure import Latencies, get_all

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Kolkata", "Asia/Tokyo",
         "Australia/Sydney", "America/Sao_Paulo")
# Narrowing kind → its share of the narrowed budgets.
KINDS = {"user": 0.55, "assistant": 0.12, "model": 0.12, "endpoint": 0.12, "user+model": 0.09}
CHECKS = 2_000  # check requests per measurement
NAIVE_CHECKS = 200  # of which asked the naive way too


@dataclass(frozen=True)
class Scope:
    company_id: str
    user_id: str | None
    assistant_id: str | None
    model: str
    endpoint: str | None

    def query(self, estimated_cost: str) -> str:
        params = {"companyId": self.company_id, "userId": self.user_id, "assistantId": self.assistant_id,
                  "model": self.model, "endpoint": self.endpoint, "estimatedCost": estimated_cost}
        return "/api/budgets/check?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})


@dataclass
class BudgetRun:
    budgets: int
    kinds: dict[str, int]
    create: Latencies  # making each budget: validation, the lock, counting its current period from raw calls
    check_alone: Latencies | None = None  # GET /api/budgets/check, one client
    check_concurrent: Latencies | None = None  # … 16 clients
    naive: Latencies | None = None  # the same answers by summing raw calls (bench.budgets.NAIVE_SQL), psycopg
    compared: int = 0
    mismatches: int = 0
    applicable: float = 0.0  # budgets per check, on average
    exact: int = 0  # budgets whose current spend equals the raw sum of their calls (after HTTP ingest)
    exact_seconds: float = 0.0  # the raw sums of every budget's period, naive, in one statement
    problem: str | None = None


def sample_scopes(engine: Engine, count: int, seed: int) -> list[Scope]:
    """Distinct (company, user, assistant, model, endpoint) of recent calls, most active first-ish."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT DISTINCT company_id, user_id, assistant_id, canonical_model, endpoint "
            "FROM llm_call_log TABLESAMPLE SYSTEM (1) REPEATABLE (:seed) "
            "WHERE timestamp >= now() - interval '30 days' LIMIT :count"), {"seed": seed, "count": count}).all()
    scopes = [Scope(*row) for row in rows]
    random.Random(seed).shuffle(scopes)
    return scopes


def make_budgets(engine: Engine, count: int, scopes: list[Scope], seed: int) -> BudgetRun:
    """`count` budgets over `scopes`, each made (and counted) through the service, timed one by one."""
    rng = random.Random(seed)
    kinds = {"company": 0} | {kind: 0 for kind in KINDS}
    specs = []
    specs_seen: set[tuple] = set()
    for company in sorted({scope.company_id for scope in scopes}):  # company-wide: a month, maybe a week, a day
        for period in ("month", *(p for p in ("week", "day") if rng.random() < 0.5)):
            specs.append((company, period, {}))
            kinds["company"] += 1
    while len(specs) < count:
        scope = rng.choice(scopes)
        kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        narrowing = {
            "user": {"user_id": scope.user_id}, "assistant": {"assistant_id": scope.assistant_id},
            "model": {"model": scope.model}, "endpoint": {"endpoint": scope.endpoint},
            "user+model": {"user_id": scope.user_id, "model": scope.model},
        }[kind]
        key = (scope.company_id, tuple(sorted(narrowing.items())))
        if any(value is None for value in narrowing.values()) or key in specs_seen:
            continue  # one budget per company and narrowing, as an organisation would set them
        specs_seen.add(key)
        kinds[kind] += 1
        specs.append((scope.company_id, rng.choice(("day", "week", "month")), narrowing))
    samples = []
    with Session(engine) as session:
        for company, period, narrowing in specs[:count]:
            limit = Decimal(10 ** rng.uniform(0, 4)).quantize(Decimal("0.01"))
            spec = BudgetSpec(company_id=company, period=period, timezone=rng.choice(ZONES), limit_usd=limit,
                              **narrowing)
            started = time.perf_counter()
            create_budget(session, spec)
            session.commit()
            samples.append(time.perf_counter() - started)
    return BudgetRun(budgets=count, kinds=kinds, create=Latencies.of(samples))


# The naive check: find the budgets that apply, and sum the raw calls of each one's current period.
NAIVE_SQL = f"""
SELECT b.id, coalesce((
    SELECT sum(c.total_cost) FROM llm_call_log c
    WHERE {MATCH} AND c.timestamp >= {PERIOD_START.format(moment="now()")}
      AND c.timestamp < {PERIOD_END.format(start=PERIOD_START.format(moment="now()"))}), 0)
FROM budget b, (SELECT CAST(:company_id AS text) AS company_id, CAST(:user_id AS text) AS user_id,
                       CAST(:assistant_id AS text) AS assistant_id, CAST(:model AS text) AS canonical_model,
                       CAST(:endpoint AS text) AS endpoint, CAST(:api_key_id AS bigint) AS api_key_id) c
WHERE {MATCH}
ORDER BY b.id
"""
# Every budget's spend in its current period: kept (budget_spend) and summed from the raw calls.
EXACT_SQL = f"""
SELECT b.id, coalesce(s.spent, 0),
       coalesce((SELECT sum(c.total_cost) FROM llm_call_log c
                 WHERE {MATCH} AND c.timestamp >= {PERIOD_START.format(moment="now()")}
                   AND c.timestamp < {PERIOD_END.format(start=PERIOD_START.format(moment="now()"))}), 0)
FROM budget b
LEFT JOIN budget_spend s ON s.budget_id = b.id AND s.period_start = {PERIOD_START.format(moment="now()")}
"""


def measure_checks(host: str, port: int, engine: Engine, run: BudgetRun, scopes: list[Scope], seed: int,
                   clients: int) -> None:
    """The check through the API (one client, then `clients`), the naive check, and exactness."""
    rng = random.Random(seed + 1)
    asked = [rng.choice(scopes) for _ in range(CHECKS)]
    paths = [scope.query(f"{rng.uniform(0.001, 1):.4f}") for scope in asked]
    client = Client(host, port)
    for path in paths[:50]:  # warm-up
        client.get(path)
    answers = [client.get(path) for path in paths]
    client.close()
    bad = [a for a in answers if a.status != 200]
    if bad:
        run.problem = f"{len(bad)} checks not 200, e.g. HTTP {bad[0].status}: {bad[0].body[:200]!r}"
        return
    run.check_alone = Latencies.of([a.seconds for a in answers])
    _, concurrent, _ = get_all(host, port, paths, clients)
    run.check_concurrent = Latencies.of([a.seconds for a in concurrent])
    run.applicable = sum(len(json.loads(a.body)["budgets"]) for a in answers) / len(answers)
    naive_samples = []
    with engine.connect() as conn:
        for scope, answer in list(zip(asked, answers))[:NAIVE_CHECKS]:
            started = time.perf_counter()
            rows = conn.execute(text(NAIVE_SQL), {
                "company_id": scope.company_id, "user_id": scope.user_id, "assistant_id": scope.assistant_id,
                "model": scope.model, "endpoint": scope.endpoint, "api_key_id": None}).all()
            naive_samples.append(time.perf_counter() - started)
            ours = {b["budgetId"]: Decimal(b["spent"]) for b in json.loads(answer.body)["budgets"]}
            run.compared += 1
            run.mismatches += ours != {budget_id: spent for budget_id, spent in rows}
        run.naive = Latencies.of(naive_samples)
        started = time.perf_counter()
        rows = conn.execute(text(EXACT_SQL)).all()
        run.exact_seconds = time.perf_counter() - started
    run.exact = sum(kept == raw for _, kept, raw in rows)


def rows(run: BudgetRun, target_ms: float) -> list[list[str]]:
    """The report's rows for budgets (bench/report.py's columns)."""
    def ms(value: float) -> str:
        return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"

    out = [[f"make {run.budgets:,} budgets ({', '.join(f'{k} {n}' for k, n in run.kinds.items())})",
            f"p50 {ms(run.create.ms(50))} / p99 {ms(run.create.ms(99))} ms each", "", "",
            "each counted from raw calls under a lock", "", ""]]
    if run.problem or run.check_alone is None:
        out.append(["GET /api/budgets/check", "", "", "", "", "MISSED", run.problem or "not measured"])
        return out
    naive = run.naive
    assert naive is not None and run.check_concurrent is not None
    out.append([f"GET /api/budgets/check, 1 client ({CHECKS:,} checks, {run.applicable:.1f} budgets apply on average)",
                f"p50 {ms(run.check_alone.ms(50))} / p99 {ms(run.check_alone.ms(99))} ms",
                f"naive p50 {ms(naive.ms(50))} / p99 {ms(naive.ms(99))} ms",
                f"{naive.ms(50) / run.check_alone.ms(50):,.1f}× faster", f"p99 < {target_ms:g} ms",
                "met" if run.check_alone.ms(99) < target_ms else "MISSED",
                f"{run.compared - run.mismatches}/{run.compared} same as naive"])
    out.append([f"GET /api/budgets/check, 16 clients ({CHECKS:,} checks)",
                f"p50 {ms(run.check_concurrent.ms(50))} / p99 {ms(run.check_concurrent.ms(99))} ms", "", "",
                "(queueing on 2 cores)", "", ""])
    out.append(["every budget's spend now = raw sum of its period's calls (after HTTP ingest)",
                f"{run.exact:,}/{run.budgets:,} equal", f"raw sums of all: {run.exact_seconds:,.1f} s", "", "all equal",
                "met" if run.exact == run.budgets else "MISSED", ""])
    return out
