"""The benchmark's parameters, from the environment (all optional)."""

from __future__ import annotations

import os
from dataclasses import dataclass


class BenchConfigError(ValueError):
    """An environment variable of the benchmark does not hold a usable value."""


def _int(env: dict[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name, "").strip().replace("_", "").replace(",", "")
    if not raw:
        return default
    try:
        value = int(float(raw)) if "e" in raw.lower() else int(raw)  # 1e6 is fine too
    except ValueError:
        raise BenchConfigError(f"{name}={env[name]!r} is not a whole number") from None
    if value < minimum:
        raise BenchConfigError(f"{name} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class BenchConfig:
    calls: int = 1_000_000  # BENCH_CALLS: calls in the data set
    database_url: str | None = None  # BENCH_DATABASE_URL: a server to make the database in
    keep: bool = False  # BENCH_KEEP=1: leave the database (and cluster) behind
    days: int = 90  # BENCH_DAYS
    copy_sample: int = 200_000  # BENCH_COPY_SAMPLE: calls of the timed raw COPY (at most `calls`)
    batches: int = 20  # BENCH_BATCHES: POST /api/calls/batch requests …
    batch_size: int = 10_000  # BENCH_BATCH_SIZE: … of this many calls
    batch_clients: int = 2  # BENCH_BATCH_CLIENTS
    single_requests: int = 4_000  # BENCH_SINGLE_REQUESTS: POST /api/calls requests …
    single_clients: int = 16  # BENCH_SINGLE_CLIENTS: … from this many concurrent clients
    reps: int = 30  # BENCH_REPS: timed repetitions of each analytics question …
    warmups: int = 3  # BENCH_WARMUPS: … after this many untimed ones
    workers: int = 2  # BENCH_WORKERS: gunicorn workers
    seed: int = 4  # BENCH_SEED

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> BenchConfig:
        env = dict(os.environ if environ is None else environ)
        defaults = cls()
        return cls(
            calls=_int(env, "BENCH_CALLS", defaults.calls),
            database_url=env.get("BENCH_DATABASE_URL", "").strip() or None,
            keep=env.get("BENCH_KEEP", "").strip().lower() in {"1", "true", "yes"},
            days=_int(env, "BENCH_DAYS", defaults.days, minimum=62),  # a whole calendar month must fit
            copy_sample=_int(env, "BENCH_COPY_SAMPLE", defaults.copy_sample),
            batches=_int(env, "BENCH_BATCHES", defaults.batches),
            batch_size=_int(env, "BENCH_BATCH_SIZE", defaults.batch_size),
            batch_clients=_int(env, "BENCH_BATCH_CLIENTS", defaults.batch_clients),
            single_requests=_int(env, "BENCH_SINGLE_REQUESTS", defaults.single_requests),
            single_clients=_int(env, "BENCH_SINGLE_CLIENTS", defaults.single_clients),
            reps=_int(env, "BENCH_REPS", defaults.reps),
            warmups=_int(env, "BENCH_WARMUPS", defaults.warmups, minimum=0),
            workers=_int(env, "BENCH_WORKERS", defaults.workers),
            seed=_int(env, "BENCH_SEED", defaults.seed, minimum=0),
        )
