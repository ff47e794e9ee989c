"""The stages a benchmark run is made of, shared by ``python -m bench`` (one data set, every
measurement) and ``python -m bench.scaling`` (a grid of data sets, the analytics questions):
progress lines, describing the machine and commit, the bulk load, making the loaded data ready
for queries, and asking the analytics questions ours vs naive.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice

import psycopg
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from app import create_app
from app.config import Settings
from app.embedded_pg import PROJECT_ROOT
from bench import load, measure
from bench.client import Client
from bench.generate import CopyPricer, Traffic
from bench.measure import Comparison
from bench.questions import Question, Window, questions

LOAD_TRANSACTION_CALLS = 1_000_000  # bulk load commits every this many calls


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def phase(phases: dict[str, float], name: str) -> Iterator[None]:
    """Time the block as `name` in `phases` (seconds), saying when it starts and ends."""
    say(f"{name} …")
    started = time.perf_counter()
    yield
    phases[name] = time.perf_counter() - started
    say(f"{name}: {phases[name]:,.1f} s")


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" (+ uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine() -> str:
    memory = ""
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 2**20:.0f} GiB RAM"
    return f"{os.cpu_count()} cores{memory}, {platform.platform()}, Python {platform.python_version()}"


@dataclass(frozen=True)
class BulkLoad:
    calls: int
    seconds: float  # generating, pricing and COPYing them, commits included
    checked: int  # calls priced both ways (integer arithmetic and the ledger's compute_cost)
    slow_path: int  # calls priced by compute_cost alone

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.seconds

    def note(self) -> str:
        return (f"bulk load: {self.calls:,} calls generated, priced and COPYed in {self.seconds:,.1f} s "
                f"({self.calls_per_second:,.0f} calls/s); the ledger's PriceBook prices, integer arithmetic checked "
                f"against its compute_cost on {self.checked:,} calls; {self.slow_path:,} calls (cache writes, "
                "threshold tiers) priced by compute_cost itself")


def bulk_load(engine: Engine, pricer: CopyPricer, traffic: Traffic, calls: int) -> BulkLoad:
    """Generate `calls` calls over the period and COPY them into ``llm_call_log``, committing every
    :data:`LOAD_TRANSACTION_CALLS`."""
    started = time.perf_counter()
    checked, slow_path = pricer.checked, pricer.slow_path
    stream = traffic.calls(calls, "load")
    for done in range(0, calls, LOAD_TRANSACTION_CALLS):
        load.copy_chunks(engine, pricer.chunks(islice(stream, LOAD_TRANSACTION_CALLS)))
        say(f"  {min(done + LOAD_TRANSACTION_CALLS, calls):,} calls loaded")
    return BulkLoad(calls, time.perf_counter() - started, pricer.checked - checked, pricer.slow_path - slow_path)


def load_calls(engine: Engine, traffic: Traffic, calls: int, phases: dict[str, float]) -> BulkLoad:
    """:func:`bulk_load` with a pricer of its own, as one phase."""
    with Session(engine) as session, phase(phases, f"generate + COPY {calls:,} calls (untimed)"):
        return bulk_load(engine, CopyPricer(session, traffic), traffic, calls)


def ready_for_queries(engine: Engine, phases: dict[str, float], *, claim_keys: bool = True) -> None:
    """What the ledger would have done while writing the loaded calls: claim their idempotency
    keys (not needed when nothing is ingested afterwards), rebuild every rollup from them, and
    VACUUM ANALYZE as autovacuum eventually would."""
    if claim_keys:
        with phase(phases, "claim idempotency keys"):
            load.claim_keys(engine)
    with phase(phases, "rollups.rebuild"):
        load.rebuild_rollup(engine)
    with phase(phases, "VACUUM ANALYZE"):
        load.vacuum_analyze(engine)


def ask_questions(host: str, port: int, url: str, window: Window, *, reps: int, warmups: int) -> list[Comparison]:
    """Every question of :func:`bench.questions.questions`, ours (HTTP to the gunicorn at
    host:port, or ``flask costs report`` in-process) vs naive (SQL on the raw calls), timed and
    checked."""
    client = Client(host, port)
    cli = create_app(Settings(database_url=url)).test_cli_runner()
    naive = psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
                            autocommit=True)

    def http(question: Question) -> Callable[[], bytes]:
        def ask() -> bytes:
            answer = client.get(question.path)
            if answer.status != 200:
                raise RuntimeError(f"{question.ours}: HTTP {answer.status}: {answer.body[:300]!r}")
            return answer.body
        return ask

    def flask(args: list[str]) -> Callable[[], str]:
        def ask() -> str:
            result = cli.invoke(args=args)
            if result.exit_code != 0:
                raise RuntimeError(f"flask {' '.join(args)} failed: {result.output}{result.exception!r}")
            return result.output
        return ask

    def sql(question: Question) -> Callable[[], list[list[tuple]]]:
        def ask() -> list[list[tuple]]:
            with naive.cursor() as cursor:
                return [cursor.execute(statement, question.params).fetchall() for statement in question.naive]
        return ask

    comparisons = []
    try:
        for question in questions(window):
            say(f"analytics: {question.name} …")
            ours = flask(question.cli_args) if question.is_cli else http(question)
            answer = flask(list(question.check_args)) if question.is_cli else ours
            comparison = measure.compare(question, ours, lambda answer=answer: json.loads(answer()), sql(question),
                                         reps=reps, warmups=warmups)
            comparisons.append(comparison)
            say(f"  ours p50 {comparison.ours.ms(50):.1f} ms, naive p50 {comparison.naive.ms(50):.1f} ms "
                f"({comparison.problem or 'same answer'})")
    finally:
        client.close()
        naive.close()
    return comparisons
