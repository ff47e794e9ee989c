"""The benchmark's answer: the parameters it ran with, and one table of results against targets."""

from __future__ import annotations

from dataclasses import dataclass, field

from tabulate import tabulate

from app import gunicorn_conf
from bench.budgets import BudgetRun
from bench.budgets import rows as budget_rows
from bench.config import BenchConfig
from bench.cpu import CpuUse
from bench.dataset import Profile
from bench.measure import Comparison, IngestRun

# Issue #4's targets.
BATCH_SHARE_OF_COPY = 0.30  # HTTP batch ingest ≥ 30% of raw COPY
SINGLE_P99_MS = 15.0  # single-call p99 < 15 ms
ANALYTICS_SPEEDUP = 20.0  # every aggregate question ≥ 20× faster than naive (issue #9) …
ANALYTICS_AT_CALLS = 10_000_000  # … at 10M calls …
ANALYTICS_P95_MS = 50.0  # … and p95 < 50 ms
CHECK_P99_MS = 10.0  # issue 12: GET /api/budgets/check p99 < 10 ms with 1,000 budgets at 10M calls
NARROW_RATIO = 2.0  # narrow questions: within 2× of the plain index query for the same rows, p95 < 50 ms


@dataclass
class Results:
    config: BenchConfig
    git: str
    database: str
    settings: dict[str, str]
    period: str
    machine: str
    phases: dict[str, float] = field(default_factory=dict)  # phase → seconds
    notes: list[str] = field(default_factory=list)
    raw_copy_calls: int = 0
    raw_copy_seconds: float = 0.0
    batch: IngestRun | None = None
    batch_retry: IngestRun | None = None  # the same batches posted again: every call a duplicate
    single: IngestRun | None = None
    single_alone: IngestRun | None = None  # the same requests from one client: service time without queueing
    single_floor: IngestRun | None = None  # the same requests answered unpriced and unstored (bench/floor.py)
    comparisons: list[Comparison] = field(default_factory=list)
    cpu: dict[str, tuple[CpuUse, int]] = field(default_factory=dict)  # measurement → (CPU used, calls)
    profile: Profile | None = None  # the loaded calls (before HTTP ingest)
    row_counts: dict[str, int] = field(default_factory=dict)  # llm_call_log and each rollup, at analytics time
    budgets: BudgetRun | None = None  # issue 12: budgets made, the pre-flight check, exactness

    @property
    def raw_copy_rate(self) -> float:
        return self.raw_copy_calls / self.raw_copy_seconds


def _status(met: bool) -> str:
    return "met" if met else "MISSED"


def _ms(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def table(results: Results) -> str:
    config = results.config
    rows = [[f"raw COPY into llm_call_log ({results.raw_copy_calls:,} calls, one transaction)",
             f"{results.raw_copy_rate:,.0f} calls/s", "", "", "the physical limit", "", ""]]
    if results.batch:
        run = results.batch
        share = run.calls_per_second / results.raw_copy_rate
        how = f"{config.batches} × {config.batch_size:,} calls, {config.batch_clients} clients"
        rows.append([f"HTTP batch ingest ({how})",
                     f"{run.calls_per_second:,.0f} calls/s", f"raw COPY {results.raw_copy_rate:,.0f} calls/s",
                     f"{share:.0%}", f"≥ {BATCH_SHARE_OF_COPY:.0%} of raw COPY",
                     _status(share >= BATCH_SHARE_OF_COPY), run.problem or "all stored"])
    if results.batch and results.batch_retry:
        run = results.batch_retry
        rows.append([f"HTTP batch retry (the same {config.batches} × {config.batch_size:,} calls again)",
                     (f"{run.calls_per_second:,.0f} calls/s, p99 {_ms(run.latencies.ms(99))} ms"),
                     (f"first write {results.batch.calls_per_second:,.0f} calls/s, "
                      f"p99 {_ms(results.batch.latencies.ms(99))} ms"),
                     f"{results.batch.seconds and run.seconds / results.batch.seconds:.2f}× the time",
                     "about the time of a first write, never 503", _status(run.problem is None),
                     run.problem or "none stored again"])
    if results.single:
        run, alone = results.single, results.single_alone
        rows.append([f"POST /api/calls ({config.single_requests:,} requests, {config.single_clients} clients)",
                     (f"p50 {_ms(run.latencies.ms(50))} / p99 {_ms(run.latencies.ms(99))} ms "
                     f"({run.calls_per_second:,.0f} calls/s)"),
                     f"1 client: p50 {_ms(alone.latencies.ms(50))} / p99 {_ms(alone.latencies.ms(99))} ms" if alone
                     else "", "", f"p99 < {SINGLE_P99_MS:g} ms", _status(run.latencies.ms(99) < SINGLE_P99_MS),
                     run.problem or "all stored"])
    if results.single_floor:
        run = results.single_floor
        rows.append(["floor: the same calls validated and answered, neither priced nor stored (bench/floor.py)",
                     (f"p50 {_ms(run.latencies.ms(50))} / p99 {_ms(run.latencies.ms(99))} ms "
                      f"({run.calls_per_second:,.0f} calls/s)"), "", "", "the floor under the row above", "", ""])
    if results.budgets:
        rows.extend(budget_rows(results.budgets, CHECK_P99_MS))
    for comparison in results.comparisons:
        rows.append(comparison_row(comparison, config.calls))
    headers = ["measurement", "ours", "baseline", "ours/baseline", "target", "status", "check"]
    return tabulate(rows, headers=headers, disable_numparse=True)


def comparison_row(comparison: Comparison, calls: int) -> list[str]:
    """One question: ours against naive (aggregate questions) or the plain index query (narrow)."""
    question = comparison.question
    ours_p95 = comparison.ours.ms(95)
    if question.kind == "narrow":
        ratio = comparison.ours.ms(50) / comparison.naive.ms(50)
        status = _status(ratio <= NARROW_RATIO and ours_p95 < ANALYTICS_P95_MS)
        return [f"{question.name} ({_short(question.ours)})",
                f"p50 {_ms(comparison.ours.ms(50))} / p95 {_ms(ours_p95)} ms",
                f"index p50 {_ms(comparison.naive.ms(50))} / p95 {_ms(comparison.naive.ms(95))} ms",
                f"{ratio:,.1f}× the time", f"≤ {NARROW_RATIO:g}× the plain index query, p95 < {ANALYTICS_P95_MS:g} ms",
                status, comparison.problem or "same answer"]
    fast_enough = comparison.speedup >= ANALYTICS_SPEEDUP
    status = _status(fast_enough and ours_p95 < ANALYTICS_P95_MS)
    if not fast_enough and calls < ANALYTICS_AT_CALLS:
        status += " (× is set at 10M)"
    return [f"{question.name} ({_short(question.ours)})",
            f"p50 {_ms(comparison.ours.ms(50))} / p95 {_ms(ours_p95)} ms",
            f"naive p50 {_ms(comparison.naive.ms(50))} / p95 {_ms(comparison.naive.ms(95))} ms",
            f"{comparison.speedup:,.1f}× faster",
            f"≥ {ANALYTICS_SPEEDUP:g}× naive at 10M, p95 < {ANALYTICS_P95_MS:g} ms",
            status, comparison.problem or "same answer"]


def _short(ours: str) -> str:
    """The route or command, without the query string or the user."""
    if ours.startswith("flask "):
        return "flask costs report, in-process"
    path = ours.split("?")[0]
    for prefix, label in (("/analytics/cost/user/", "GET /analytics/cost/user/<user>"),
                          ("/api/costs/by-assistant/", "GET /api/costs/by-assistant/<id>"),
                          ("/api/costs/by-model/", "GET /api/costs/by-model/<model>")):
        if prefix in path:
            return label
    return path + ("?" + ours.split("?")[1] if path.endswith("/api/costs") and "?" in ours else "")


def row_counts(counts: dict[str, int]) -> list[str]:
    """"llm_call_log 1,000,000", then "rollup_x 12,000 (1.2% of llm_call_log)" for each rollup."""
    raw = counts.get("llm_call_log") or 1
    width = max(map(len, counts))
    return [f"{table:<{width}} {rows:>13,}" + ("" if table == "llm_call_log" else f"  ({rows / raw:.1%} of llm_call_log)")
            for table, rows in counts.items()]


def render(results: Results) -> str:
    config = results.config
    lines = [
        "",
        "LLM cost ledger benchmark (issues #4, #9 and #12)",
        (f"  calls generated    {config.calls:,} over {config.days} days ({results.period}); the timed COPY's and "
         f"the HTTP ones are sent today (the COPY's deleted after timing; a share of the HTTP ones stamped late)"),
        f"  shape              {config.shape.describe()}",
        *([f"  data loaded        {results.profile.describe()}"] if results.profile else []),
        *(f"  rows               {line}" for line in row_counts(results.row_counts)),
        f"  git commit         {results.git}",
        f"  machine            {results.machine}",
        f"  database           {results.database}",
        "  settings           " + ", ".join(f"{name}={value}" for name, value in results.settings.items()),
        (f"  server             gunicorn as `make run` starts it (app/gunicorn_conf.py): {config.workers} gthread "
         f"workers of {gunicorn_conf.threads} threads, connections kept alive (a batch's closed after its answer); HTTP clients are "
         "threads of this process, one keep-alive connection each"),
        (f"  analytics          {config.warmups} warm-ups, then {config.reps} timed runs of each; ours = HTTP to "
         "gunicorn, and `flask costs report` through create_app().test_cli_runner() in this process (no Python "
         "start-up); naive = plain GROUP BY on llm_call_log via psycopg, no HTTP (SQL in bench/questions.py)"),
        "  phases             " + ", ".join(f"{name} {seconds:,.1f} s" for name, seconds in results.phases.items()),
        *(f"  cpu                {name}: {use.per_call_ms(calls)}" for name, (use, calls) in results.cpu.items()),
        *(f"  note               {note}" for note in results.notes),
        "",
        table(results),
        "",
    ]
    return "\n".join(lines)
