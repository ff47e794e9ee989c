"""`python -m bench`: run the whole benchmark once and print its table (see bench/__init__.py)."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench import budgets, cpu, dataset, load, measure
from bench.client import use_platform_key
from bench.config import BenchConfig, BenchConfigError
from bench.cpu import CpuMeter, CpuUse
from bench.database import fresh_database, make_engine, migrate, server_settings
from bench.generate import CopyPricer, Traffic
from bench.questions import Window
from bench.report import Results, render
from bench.server import gunicorn
from bench.stages import bulk_load, git_commit, machine, phase, ready_for_queries, say, ask_questions

SINGLE_ALONE_REQUESTS = 200  # single calls from one client first: the service time, without queueing


def load_data(engine: Engine, traffic: Traffic, config: BenchConfig, results: Results) -> None:
    """Bulk-load the calls; time raw COPY of more calls, stamped today as the HTTP ones will be
    (the same partition and index pages, so that the two rates compare); keys, rollups, stats."""
    sample = min(config.copy_sample, config.calls)
    with Session(engine) as session:
        pricer = CopyPricer(session, traffic)
        with phase(results.phases, f"generate + COPY {config.calls:,} calls (untimed)"):
            bulk = bulk_load(engine, pricer, traffic, config.calls)
        with phase(results.phases, f"generate {sample:,} calls stamped today for the timed COPY"):
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
    results.notes.append(bulk.note())
    ready_for_queries(engine, results.phases)
    with phase(results.phases, "profile the loaded calls (untimed)"):
        with engine.connect() as conn:
            results.profile = dataset.profile(conn)
    checkpoint(engine, results, "the HTTP measurements")


def checkpoint(engine: Engine, results: Results, before: str) -> None:
    """A CHECKPOINT before timed work: none started by the bulk load runs during it."""
    with phase(results.phases, f"CHECKPOINT before {before}"):
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
                   meter: CpuMeter, workdir: Path) -> datetime:
    """Time HTTP batch ingest and single calls (and the floor); returns the moment the live calls
    were stamped before."""
    now = datetime.now(UTC)
    with phase(results.phases, "serialise request bodies"):
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
    say("HTTP batch retry: the same batches again (every call already stored) …")
    results.batch_retry = measure.batch_ingest(host, port, batches, config.batch_size, config.batch_clients,
                                               retry=True)
    say(f"  {results.batch_retry.calls_per_second:,.0f} calls/s ({results.batch_retry.problem or 'none stored again'})")
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
    return now


def run(config: BenchConfig) -> Results:
    today = datetime.now(UTC).date()
    phases: dict[str, float] = {}
    with phase(phases, f"build the organisation ({config.shape.preset} shape)"):
        traffic = Traffic(config.shape, today=today)
    last_day = today - timedelta(days=1)
    workdir = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    with fresh_database(config.database_url, keep=config.keep) as database:
        say(f"database: {database.origin}")
        engine = make_engine(database.url)
        results = Results(config=config, git=git_commit(), database=database.origin, settings=server_settings(engine),
                          period=f"{traffic.start.date()} … {last_day}, UTC", machine=machine(), phases=phases)
        try:
            with phase(results.phases, "migrate + price catalog"):
                migrate(engine)
                use_platform_key(engine)
                load.make_partitions(engine, traffic.start.date(), today)
            load_data(engine, traffic, config, results)
            scopes = budgets.sample_scopes(engine, 5_000, config.seed) if config.budgets else []
            if config.budgets:
                say(f"making {config.budgets:,} budgets …")
                with phase(results.phases, f"make {config.budgets:,} budgets"):
                    results.budgets = budgets.make_budgets(engine, config.budgets, scopes, config.seed)
                checkpoint(engine, results, "the HTTP measurements (after the budgets)")
            with gunicorn(database.url, workers=config.workers, log_path=workdir / "gunicorn.log") as (host, port, pid):
                now = measure_ingest(host, port, traffic, config, results, CpuMeter(pid, database_pid(engine)),
                                     workdir)
                since = traffic.earliest_live(now)
                calls, statements = load.write_statements(engine, "bench-http-single-concurrent-", since)
                results.notes.append(
                    f"POST /api/calls from {config.single_clients} clients: {calls:,} calls written by {statements:,} "
                    f"statements, {calls / max(statements, 1):.1f} calls each on average (group commit: the calls a "
                    "worker receives while it writes are written together, app/ledger/group_commit.py)")
                with phase(results.phases, "ANALYZE"):
                    load.vacuum_analyze(engine, analyze_only=True)
                if results.budgets:
                    say("budget checks …")
                    with phase(results.phases, "budget checks"):
                        budgets.measure_checks(host, port, engine, results.budgets, scopes, config.seed,
                                               config.single_clients)
                with engine.connect() as conn:
                    results.row_counts = dataset.row_counts(conn)
                results.notes.append(
                    f"at analytics time: {results.row_counts['llm_call_log']:,} calls in llm_call_log, of which "
                    f"{load.calls_since(engine, traffic.end):,} stamped today (posted over HTTP: a heavier today "
                    f"than the period's average day; {config.shape.late_share:.0%} of the HTTP calls were stamped "
                    "1 to 72 hours in the past instead)")
                if config.questions:
                    window = Window.of(traffic.start.date(), last_day, results.profile)
                    results.comparisons = ask_questions(host, port, database.url, window, reps=config.reps,
                                                        warmups=config.warmups)
                    results.notes.append("analytics paths: " + "; ".join(c.question.ours
                                                                          for c in results.comparisons))
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
