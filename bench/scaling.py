"""``python -m bench.scaling`` (``make bench-scaling``): how the cost of answering grows with the
shape of the data.

For every point of a small grid — calls (``BENCH_SCALING_CALLS``, default 1M and 3M) × users
(``BENCH_SCALING_USERS``, default 1,000, 10,000 and 50,000), assistants and endpoints scaled
alongside (:meth:`bench.config.ScalingConfig.shape_for`), the rest of the shape from
``BENCH_SHAPE`` and its variables — a fresh database in one server is migrated, loaded with COPY,
its rollups rebuilt and analysed; then every analytics question of :mod:`bench.questions` is
timed ours (HTTP to a real gunicorn, as ``python -m bench`` does) vs naive, and checked. No
ingest is timed here. One table comes out: a row per question, a column per grid point, each
cell the p50 of ours / naive; below it, the rows of ``llm_call_log`` and of each rollup table per
point. ``BENCH_REPS``, ``BENCH_WARMUPS``, ``BENCH_WORKERS`` and ``BENCH_DATABASE_URL`` apply as
in :mod:`bench`. Progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tabulate import tabulate

from bench import dataset, load
from bench.client import use_platform_key
from bench.config import BenchConfigError, ScalingConfig
from bench.database import BenchServer, database_in, database_server, make_engine, migrate
from bench.dataset import Profile
from bench.generate import Traffic
from bench.measure import Comparison
from bench.questions import Window
from bench.server import gunicorn
from bench.shape import Shape
from bench.stages import BulkLoad, ask_questions, git_commit, load_calls, machine, phase, ready_for_queries, say


@dataclass
class Point:
    """One data set of the grid and what was measured on it."""

    calls: int
    shape: Shape
    phases: dict[str, float] = field(default_factory=dict)
    bulk: BulkLoad | None = None
    profile: Profile | None = None
    row_counts: dict[str, int] = field(default_factory=dict)
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{_count(self.calls)} calls, {self.shape.users:,} users"


def _count(calls: int) -> str:
    if calls >= 1_000_000 and calls % 100_000 == 0:
        return f"{calls / 1_000_000:g}M"
    return f"{calls / 1_000:g}k" if calls >= 1_000 and calls % 100 == 0 else f"{calls:,}"


def measure_point(server: BenchServer, point: Point, config: ScalingConfig, today: date, workdir: Path) -> None:
    traffic = Traffic(point.shape, today=today)
    with database_in(server, keep=False) as database:
        engine = make_engine(database.url)
        try:
            with phase(point.phases, "migrate + price catalog"):
                migrate(engine)
                use_platform_key(engine)
                load.make_partitions(engine, traffic.start.date(), today)
            point.bulk = load_calls(engine, traffic, point.calls, point.phases)
            ready_for_queries(engine, point.phases, claim_keys=False)  # nothing is ingested afterwards
            with phase(point.phases, "profile and count rows (untimed)"), engine.connect() as conn:
                point.profile = dataset.profile(conn)
                point.row_counts = dataset.row_counts(conn)
            load.checkpoint(engine)
            window = Window.of(traffic.start.date(), today - timedelta(days=1), point.profile)
            with gunicorn(database.url, workers=config.bench.workers, log_path=workdir / "gunicorn.log") as \
                    (host, port, _):
                point.comparisons = ask_questions(host, port, database.url, window, reps=config.bench.reps,
                                                  warmups=config.bench.warmups)
        finally:
            engine.dispose()


def _ms(ms: float) -> str:
    return f"{ms:,.1f}" if ms < 100 else f"{ms:,.0f}"


def table(points: list[Point]) -> str:
    """Questions × grid points (p50 ours / naive, ms), then the data and row counts of each point."""
    headers = ["", *(point.label for point in points)]
    names = list(dict.fromkeys(c.question.name for point in points for c in point.comparisons))
    rows = []
    for name in names:
        cells = []
        for point in points:
            found = next((c for c in point.comparisons if c.question.name == name), None)
            cells.append("" if found is None else
                         f"{_ms(found.ours.ms(50))} / {_ms(found.naive.ms(50))} ms"
                         + (" (answers differ)" if found.problem else ""))
        rows.append([f"{name}: p50 ours / naive", *cells])
    rows.append(["answers", *("same" if point.comparisons and not any(c.problem for c in point.comparisons)
                              else "DIFFER (see notes)" if point.comparisons else "not measured"
                              for point in points)])
    rows.append(["shape: assistants, endpoints", *(f"{p.shape.assistants:,}, {p.shape.endpoints:,}" for p in points)])
    rows.append(["present: users, assistants, models", *(
        f"{p.profile.users:,}, {p.profile.assistants:,}, {p.profile.models}" if p.profile else "" for p in points)])
    rows.append(["top 1% of users / top 10% of assistants make", *(
        f"{p.profile.top_users_share:.0%} / {p.profile.top_assistants_share:.0%}" if p.profile else ""
        for p in points)])
    rows.append(["bulk load (generate + price + COPY)", *(
        f"{p.bulk.calls_per_second:,.0f} calls/s" if p.bulk else "" for p in points)])
    rows.append(["rollups.rebuild", *(f"{p.phases['rollups.rebuild']:,.1f} s" if "rollups.rebuild" in p.phases
                                      else "" for p in points)])
    tables = list(dict.fromkeys(name for point in points for name in point.row_counts))
    for name in tables:
        raw = [point.row_counts.get("llm_call_log") or 1 for point in points]
        rows.append([f"rows: {name}", *(
            "" if name not in point.row_counts else f"{point.row_counts[name]:,}"
            + ("" if name == "llm_call_log" else f" ({point.row_counts[name] / total:.1%})")
            for point, total in zip(points, raw, strict=True))])
    return tabulate(rows, headers=headers, disable_numparse=True)


def render(points: list[Point], config: ScalingConfig, origin: str, git: str, seconds: float) -> str:
    notes = [f"{point.label}: {c.question.name}: {c.problem}" for point in points for c in point.comparisons
             if c.problem]
    return "\n".join([
        "",
        "LLM cost ledger benchmark: how answering grows with the shape of the data",
        f"  base shape         {config.bench.shape.describe()}",
        ("  grid               calls × users; assistants in proportion to users, endpoints with its square root, "
         "companies as the base shape"),
        f"  git commit         {git}",
        f"  machine            {machine()}",
        f"  database           a fresh database per point in {origin}",
        (f"  analytics          {config.bench.warmups} warm-ups, then {config.bench.reps} timed runs of each; ours = "
         "HTTP to gunicorn (flask costs report in-process), naive = plain GROUP BY on llm_call_log (bench/questions.py)"),
        f"  whole run          {seconds:,.0f} s",
        *(f"  note               {note}" for note in notes),
        "",
        table(points),
        "",
    ])


def main() -> int:
    try:
        config = ScalingConfig.from_env()
        points = [Point(calls, config.shape_for(users)) for calls in config.calls for users in config.users]
    except (BenchConfigError, ValueError) as error:
        print(f"bench.scaling: {error}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    today = datetime.now(UTC).date()
    workdir = Path(tempfile.mkdtemp(prefix="ledger-bench-scaling-"))
    try:
        with database_server(config.bench.database_url, keep=False) as server:
            for n, point in enumerate(points, 1):
                say(f"grid point {n} of {len(points)}: {point.label} ({point.shape.describe()})")
                measure_point(server, point, config, today, workdir)
            origin = server.origin
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(render(points, config, origin, git_commit(), time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
