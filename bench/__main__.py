"""`python -m bench`: run the whole benchmark once and print its table (see bench/__init__.py)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from app import create_app
from bench import cpu, load, measure
from bench.client import Client
from bench.config import BenchConfig, BenchConfigError
from bench.cpu import CpuMeter, CpuUse
from bench.database import fresh_database, make_engine, migrate, server_settings
from bench.generate import CopyPricer, Traffic
from bench.questions import Question, Window, questions
from bench.report import Results, render
from bench.server import gunicorn
from app.config import Settings
from app.embedded_pg import PROJECT_ROOT

LOAD_TRANSACTION_CALLS = 1_000_000  # bulk load commits every this many calls
SINGLE_ALONE_REQUESTS = 200  # single calls from one client first: the service time, without queueing


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextmanager
def phase(results: Results, name: str) -> Iterator[None]:
    say(f"{name} …")
    started = time.perf_counter()
    yield
    results.phases[name] = time.perf_counter() - started
    say(f"{name}: {results.phases[name]:,.1f} s")


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


def load_data(engine: Engine, traffic: Traffic, config: BenchConfig, results: Results) -> None:
    """Bulk-load the calls; time raw COPY of more calls, stamped today as the HTTP ones will be
    (the same partition and index pages, so that the two rates compare); keys, rollup, stats."""
    sample = min(config.copy_sample, config.calls)
    with Session(engine) as session:
        pricer = CopyPricer(session, traffic)
        with phase(results, f"generate + COPY {config.calls:,} calls (untimed)"):
            calls = traffic.calls(config.calls, "load")
            for done in range(0, config.calls, LOAD_TRANSACTION_CALLS):
                load.copy_chunks(engine, pricer.chunks(islice(calls, LOAD_TRANSACTION_CALLS)))
                say(f"  {min(done + LOAD_TRANSACTION_CALLS, config.calls):,} calls loaded")
        with phase(results, f"generate {sample:,} calls stamped today for the timed COPY"):
            chunks = list(pricer.chunks(traffic.calls(sample, "copy", live_until=datetime.now(UTC))))
    checkpoint(engine, results, "the timed COPY")
    say(f"timed raw COPY of {sample:,} calls …")
    results.raw_copy_calls = sample
    used: list[CpuUse] = []
    with CpuMeter(None, database_pid(engine)).measure(used):
        results.raw_copy_seconds = load.timed_copy(engine, chunks)
    results.cpu["raw COPY"] = (used[-1], sample)
    say(f"raw COPY: {sample / results.raw_copy_seconds:,.0f} calls/s")
    del chunks
    # Measured, not data: today would otherwise hold 200,000 calls more than a real partial day.
    load.delete_calls(engine, "bench-copy-", traffic.end)
    results.notes.append(
        f"bulk-load costs: the ledger's PriceBook prices, integer arithmetic checked against its compute_cost "
        f"on {pricer.checked:,} calls; {pricer.slow_path:,} calls (cache writes, threshold tiers) priced by "
        "compute_cost itself")
    with phase(results, "claim idempotency keys"):
        load.claim_keys(engine)
    with phase(results, "rollups.rebuild"):
        rebuilt = load.rebuild_rollup(engine)
    say(f"  {rebuilt.rows:,} rollup rows for {rebuilt.first_day} … {rebuilt.last_day}")
    with phase(results, "VACUUM ANALYZE"):
        load.vacuum_analyze(engine)
    checkpoint(engine, results, "the HTTP measurements")


def checkpoint(engine: Engine, results: Results, before: str) -> None:
    """A CHECKPOINT before timed work: none started by the bulk load runs during it."""
    with phase(results, f"CHECKPOINT before {before}"):
        problem = load.checkpoint(engine)
    if problem and problem not in results.notes:
        results.notes.append(problem)


def json_bodies(bodies: Iterator[dict[str, Any]], per_request: int | None) -> list[bytes]:
    """Request bodies, serialised now so that no clock counts it: one call each, or batches."""
    if per_request is None:
        return [json.dumps(body).encode() for body in bodies]
    batches = []
    while batch := list(islice(bodies, per_request)):
        batches.append(json.dumps({"calls": batch}).encode())
    return batches


def database_pid(engine: Engine) -> int | None:
    """The postmaster's pid, when the database server runs on this machine."""
    with engine.connect() as conn:
        return cpu.database_root(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def measure_ingest(host: str, port: int, traffic: Traffic, config: BenchConfig, results: Results,
                   meter: CpuMeter, workdir: Path) -> None:
    now = datetime.now(UTC)
    with phase(results, "serialise request bodies"):
        warm_batches = json_bodies(traffic.live_bodies(2 * 100, "http-batch-warm-up", now), 100)
        batches = json_bodies(traffic.live_bodies(config.batches * config.batch_size, "http-batch", now),
                              config.batch_size)
        warm_singles = json_bodies(traffic.live_bodies(4 * config.single_clients, "http-single-warm-up", now), None)
        alone = json_bodies(traffic.live_bodies(SINGLE_ALONE_REQUESTS, "http-single-alone", now), None)
        singles = json_bodies(traffic.live_bodies(config.single_requests, "http-single-concurrent", now), None)
    measure.post_all(host, port, "/api/calls/batch", warm_batches, config.batch_clients)
    say(f"HTTP batch ingest: {config.batches} × {config.batch_size:,} calls from {config.batch_clients} clients …")
    used: list[CpuUse] = []
    with meter.measure(used):
        results.batch = measure.batch_ingest(host, port, batches, config.batch_size, config.batch_clients)
    results.cpu["HTTP batch ingest"] = (used[-1], results.batch.calls)
    say(f"  {results.batch.calls_per_second:,.0f} calls/s ({results.batch.problem or 'all stored'})")
    del batches
    measure.post_all(host, port, "/api/calls", warm_singles, config.single_clients)
    say(f"single calls: {SINGLE_ALONE_REQUESTS} requests from one client …")
    results.single_alone = measure.single_calls(host, port, alone, 1)
    say(f"single calls: {config.single_requests:,} requests from {config.single_clients} clients …")
    with meter.measure(used):
        results.single = measure.single_calls(host, port, singles, config.single_clients)
    results.cpu[f"POST /api/calls, {config.single_clients} clients"] = (used[-1], results.single.calls)
    say(f"  p50 {results.single.latencies.ms(50):.1f} ms, p99 {results.single.latencies.ms(99):.1f} ms "
        f"({results.single.problem or 'all stored'})")
    say(f"single calls: the same {config.single_requests:,} requests from {config.single_clients} clients to the "
        "floor (bench/floor.py: validated and answered, neither priced nor stored) …")
    floor = gunicorn("", workers=config.workers, log_path=workdir / "floor.log", app="bench.floor:app")
    with floor as (floor_host, floor_port, floor_pid):
        measure.post_all(floor_host, floor_port, "/api/calls", warm_singles, config.single_clients)
        with CpuMeter(floor_pid, None).measure(used):
            results.single_floor = measure.single_calls(floor_host, floor_port, singles, config.single_clients)
    results.cpu[f"floor, {config.single_clients} clients"] = (used[-1], results.single_floor.calls)
    say(f"  p50 {results.single_floor.latencies.ms(50):.1f} ms, p99 {results.single_floor.latencies.ms(99):.1f} ms")
    reconnects = results.batch.reconnects + results.single.reconnects
    if reconnects:
        results.notes.append(f"{reconnects} requests found their connection closed and were sent again")


def busiest_user(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT user_id FROM llm_call_daily WHERE user_id IS NOT NULL GROUP BY user_id "
            "ORDER BY sum(calls) DESC, user_id LIMIT 1")).scalar_one()


def measure_analytics(host: str, port: int, url: str, window: Window, config: BenchConfig,
                      results: Results) -> None:
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

    try:
        for question in questions(window):
            say(f"analytics: {question.name} …")
            ours = flask(question.cli_args) if question.is_cli else http(question)
            answer = flask(list(question.check_args)) if question.is_cli else ours
            comparison = measure.compare(question, ours, lambda answer=answer: json.loads(answer()), sql(question),
                                         reps=config.reps, warmups=config.warmups)
            results.comparisons.append(comparison)
            say(f"  ours p50 {comparison.ours.ms(50):.1f} ms, naive p50 {comparison.naive.ms(50):.1f} ms "
                f"({comparison.problem or 'same answer'})")
    finally:
        client.close()
        naive.close()
    results.notes.append("analytics paths: " + "; ".join(q.ours for q in questions(window)))


def run(config: BenchConfig) -> Results:
    today = datetime.now(UTC).date()
    traffic = Traffic(days=config.days, today=today, seed=config.seed)
    last_day = today - timedelta(days=1)
    workdir = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    with fresh_database(config.database_url, keep=config.keep) as database:
        say(f"database: {database.origin}")
        engine = make_engine(database.url)
        results = Results(config=config, git=git_commit(), database=database.origin, settings=server_settings(engine),
                          period=f"{traffic.start.date()} … {last_day}, UTC", machine=machine())
        try:
            with phase(results, "migrate + price catalog"):
                migrate(engine)
                load.make_partitions(engine, traffic.start.date(), today)
            load_data(engine, traffic, config, results)
            with gunicorn(database.url, workers=config.workers, log_path=workdir / "gunicorn.log") as (host, port, pid):
                measure_ingest(host, port, traffic, config, results, CpuMeter(pid, database_pid(engine)), workdir)
                calls, statements = load.write_statements(engine, "bench-http-single-concurrent-", traffic.end)
                results.notes.append(
                    f"POST /api/calls from {config.single_clients} clients: {calls:,} calls written by {statements:,} "
                    f"statements, {calls / max(statements, 1):.1f} calls each on average (group commit: the calls a "
                    "worker receives while it writes are written together, app/group_commit.py)")
                with phase(results, "ANALYZE"):
                    load.vacuum_analyze(engine, analyze_only=True)
                results.notes.append(
                    f"at analytics time: {load.row_count(engine):,} calls in llm_call_log, of which "
                    f"{load.calls_since(engine, traffic.end):,} posted over HTTP and stamped today (a heavier "
                    f"today than the period's average day); "
                    f"{load.row_count(engine, 'llm_call_daily'):,} rollup rows")
                window = Window(traffic.start.date(), last_day, busiest_user(engine))
                measure_analytics(host, port, database.url, window, config, results)
        finally:
            engine.dispose()
        if database.kept:
            results.notes.append(database.kept)
    if config.keep:
        results.notes.append(f"gunicorn log kept: {workdir / 'gunicorn.log'}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def main() -> int:
    try:
        config = BenchConfig.from_env()
    except BenchConfigError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    results = run(config)
    results.phases["whole run"] = time.perf_counter() - started
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
