"""`make soak`: a bounded mixed load through gunicorn on loopback for SOAK_SECONDS (default 600).

A fresh database (throwaway cluster, or a new database in ``SOAK_DATABASE_URL``'s server),
migrated, with the price catalog and a platform key; gunicorn as `make run` starts it. Then, at
once and at a bounded rate: single-call clients (`POST /api/calls`, each at most
``SINGLE_RATE`` calls/s), one batch client (`POST /api/calls/batch` of ``BATCH`` calls every
``BATCH_EVERY`` seconds) and reader clients cycling through every analytics read. Retries use
the same requestId, stamped between now and 3 days ago (late calls included).

Prints, per endpoint: requests, errors (any answer other than 200/201), p50/p95/p99; and each
gunicorn worker's resident memory after the warm-up and at the end. Exits 1 if any request
failed.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tabulate import tabulate

from bench.client import Client, use_platform_key
from bench.database import fresh_database, make_engine, migrate
from bench.server import gunicorn

SINGLE_CLIENTS, SINGLE_RATE = 4, 25.0
BATCH, BATCH_EVERY = 1_000, 2.0
READERS = 2
WARM_UP_SECONDS = 20
USERS = [f"user{n}@soak.example" for n in range(2_000)]
ASSISTANTS = [f"assistant-{n}" for n in range(100)]
MODELS = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"),
          ("google", "gemini-2.5-flash"), ("openai", "no-such-model")]
COMPANIES = ["acme", "globex", "initech"]


def _reads(today: str, month_ago: str) -> list[tuple[str, str]]:
    dates = f"startDate={month_ago}&endDate={today}"
    return [
        ("summary", f"/api/costs/summary?{dates}"),
        ("daily", f"/api/costs/daily?{dates}"),
        ("breakdown", f"/api/costs/breakdown?by=user&{dates}"),
        ("records", "/api/costs?limit=50"),
        ("records by user", f"/api/costs?userId={USERS[0]}&limit=50"),
        ("records by model", "/api/costs?model=gpt-4o&limit=50"),
        ("by assistant", f"/api/costs/by-assistant/{ASSISTANTS[0]}?{dates}"),
        ("by model", f"/api/costs/by-model/gpt-4o?{dates}"),
        ("user by model", f"/analytics/cost/user/{USERS[0]}?{dates}"),
        ("rolling total", "/analytics/cost/total"),
        ("prices", "/api/prices?provider=openai&model=gpt-4o"),
        ("dimensions", "/api/dimensions"),
    ]


def _call(rng: random.Random, request_id: str) -> dict:
    provider, model = rng.choice(MODELS)
    late = timedelta(seconds=rng.randrange(0, 3 * 86_400)) if rng.random() < 0.05 else timedelta(0)
    return {"provider": provider, "model": model, "inputTokens": rng.randrange(10, 20_000),
            "outputTokens": rng.randrange(1, 2_000), "companyId": rng.choice(COMPANIES),
            "userId": USERS[min(int(rng.paretovariate(1.2)) - 1, len(USERS) - 1)],
            "assistantId": rng.choice(ASSISTANTS), "endpoint": f"/e{rng.randrange(20)}",
            "success": rng.random() > 0.03, "durationMs": rng.randrange(50, 20_000),
            "timestamp": (datetime.now(UTC) - late).isoformat(), "requestId": request_id}


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _workers(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True, check=False).stdout
    return sorted(int(pid) for pid in out.split())


class Record:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.examples: list[str] = []

    def add(self, name: str, status: int, seconds: float, body: bytes) -> None:
        with self.lock:
            self.latencies[name].append(seconds)
            if status not in (200, 201):
                self.errors[name] += 1
                if len(self.examples) < 10:
                    self.examples.append(f"{name}: {status} {body[:200]!r}")


def _percentile(samples: list[float], percent: float) -> float:
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1] * 1000


def main() -> int:
    seconds = int(os.environ.get("SOAK_SECONDS", "600"))
    workdir = Path(tempfile.mkdtemp(prefix="ledger-soak-"))
    record = Record()
    stop = threading.Event()
    try:
        with fresh_database(os.environ.get("SOAK_DATABASE_URL"), keep=False) as database:
            engine = make_engine(database.url)
            try:
                migrate(engine)
                use_platform_key(engine)
            finally:
                engine.dispose()
            with gunicorn(database.url, workers=2, log_path=workdir / "gunicorn.log") as (host, port, master):
                today = datetime.now(UTC).date()
                reads = _reads(today.isoformat(), (today - timedelta(days=29)).isoformat())

                def singles(number: int) -> None:
                    client, rng, n = Client(host, port), random.Random(number), 0
                    while not stop.is_set():
                        started = time.monotonic()
                        answer = client.post("/api/calls", json.dumps(_call(rng, f"s{number}-{n}")).encode())
                        record.add("POST /api/calls", answer.status, answer.seconds, answer.body)
                        n += 1
                        time.sleep(max(0.0, 1 / SINGLE_RATE - (time.monotonic() - started)))

                def batches() -> None:
                    client, rng, n = Client(host, port), random.Random(99), 0
                    while not stop.is_set():
                        started = time.monotonic()
                        body = {"calls": [_call(rng, f"b-{n}-{k}") for k in range(BATCH)]}
                        answer = client.post("/api/calls/batch", json.dumps(body).encode())
                        record.add("POST /api/calls/batch", answer.status, answer.seconds, answer.body)
                        n += 1
                        stop.wait(max(0.0, BATCH_EVERY - (time.monotonic() - started)))

                def readers(number: int) -> None:
                    client = Client(host, port)
                    position = number
                    while not stop.is_set():
                        name, path = reads[position % len(reads)]
                        answer = client.get(path)
                        record.add(f"GET {name}", answer.status, answer.seconds, answer.body)
                        position += 1
                        stop.wait(0.05)

                threads = ([threading.Thread(target=singles, args=(n,)) for n in range(SINGLE_CLIENTS)]
                           + [threading.Thread(target=batches)]
                           + [threading.Thread(target=readers, args=(n,)) for n in range(READERS)])
                print(f"soak: {seconds} s against {host}:{port} ({database.origin})", flush=True)
                for thread in threads:
                    thread.start()
                time.sleep(WARM_UP_SECONDS)
                workers = _workers(master)
                rss_start = {pid: _rss_kb(pid) for pid in workers}
                time.sleep(max(0, seconds - WARM_UP_SECONDS))
                rss_end = {pid: _rss_kb(pid) for pid in _workers(master)}
                stop.set()
                for thread in threads:
                    thread.join()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    rows = [[name, f"{len(samples):,}", record.errors.get(name, 0), f"{_percentile(samples, 50):.1f}",
             f"{_percentile(samples, 95):.1f}", f"{_percentile(samples, 99):.1f}"]
            for name, samples in sorted(record.latencies.items())]
    print(tabulate(rows, headers=["endpoint", "requests", "errors", "p50 ms", "p95 ms", "p99 ms"],
                   disable_numparse=True))
    for pid in sorted(set(rss_start) | set(rss_end)):
        start, end = rss_start.get(pid), rss_end.get(pid)
        print(f"worker {pid}: RSS {start / 1024 if start else float('nan'):.1f} MiB after the {WARM_UP_SECONDS} s "
              f"warm-up, {end / 1024 if end else float('nan'):.1f} MiB at the end")
    errors = sum(record.errors.values())
    print(f"soak: {sum(len(s) for s in record.latencies.values()):,} requests, {errors} errors", *record.examples,
          sep="\n  ")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
