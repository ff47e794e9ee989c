"""The benchmark's parameters, from the environment (all optional)."""

from __future__ import annotations

import os
import math
from dataclasses import dataclass, replace

from bench.shape import FIXED_BY_DEMO, MID, PRESETS, Shape

# Shape parameters that can be set one by one, over the preset's: variable → Shape field (a whole
# number or not, as the field).
SHAPE_VARIABLES = {
    "BENCH_COMPANIES": "companies",
    "BENCH_USERS": "users",
    "BENCH_ASSISTANTS": "assistants",
    "BENCH_ENDPOINTS": "endpoints",
    "BENCH_MODELS": "models",
    "BENCH_USER_SKEW": "user_skew",
    "BENCH_ASSISTANT_SKEW": "assistant_skew",
    "BENCH_COMPANY_SKEW": "company_skew",
    "BENCH_FAILURE_RATE": "failure_rate",
    "BENCH_UNPRICED_SHARE": "unpriced_share",
    "BENCH_LATE_SHARE": "late_share",
}


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


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BenchConfigError(f"{name}={env[name]!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise BenchConfigError(f"{name}={env[name]!r} is not a finite number")
    return value


def shape_from_env(env: dict[str, str]) -> Shape:
    """BENCH_SHAPE's preset (mid by default), with BENCH_DAYS, BENCH_SEED and the variables of
    :data:`SHAPE_VARIABLES` over it."""
    name = env.get("BENCH_SHAPE", "").strip().lower() or MID.preset
    if name not in PRESETS:
        raise BenchConfigError(f"BENCH_SHAPE={env['BENCH_SHAPE']!r} is not one of {', '.join(PRESETS)}")
    preset = PRESETS[name]
    changes: dict[str, int | float] = {}
    for variable, field in SHAPE_VARIABLES.items():
        if not env.get(variable, "").strip():
            continue
        if preset.from_demo and field in FIXED_BY_DEMO:
            raise BenchConfigError(f"{variable} cannot change BENCH_SHAPE=demo, whose organisation is app/demo.py's; "
                                   "use BENCH_SHAPE=mid (or large) with it")
        default = getattr(preset, field)
        changes[field] = (_int(env, variable, default) if isinstance(default, int)
                          else _float(env, variable, default))
    changes["days"] = _int(env, "BENCH_DAYS", preset.days, minimum=62)  # a whole calendar month must fit
    changes["seed"] = _int(env, "BENCH_SEED", preset.seed, minimum=0)
    customised = tuple(field for field, value in changes.items()
                       if field not in ("days", "seed") and getattr(preset, field) != value)
    try:
        return replace(preset, **changes, customised=customised)
    except ValueError as error:  # the shape's own checks, e.g. fewer users than companies
        given = "".join(f", {variable}={env[variable].strip()}" for variable in SHAPE_VARIABLES
                        if env.get(variable, "").strip())
        raise BenchConfigError(f"BENCH_SHAPE={name}{given}: {error}") from None


@dataclass(frozen=True)
class BenchConfig:
    calls: int = 1_000_000  # BENCH_CALLS: calls in the data set
    database_url: str | None = None  # BENCH_DATABASE_URL: a server to make the database in
    keep: bool = False  # BENCH_KEEP=1: leave the database (and cluster) behind
    shape: Shape = MID  # BENCH_SHAPE and the shape's variables (BENCH_USERS, …, BENCH_DAYS, BENCH_SEED)
    copy_sample: int = 200_000  # BENCH_COPY_SAMPLE: calls of the timed raw COPY (at most `calls`)
    batches: int = 20  # BENCH_BATCHES: POST /api/calls/batch requests …
    batch_size: int = 10_000  # BENCH_BATCH_SIZE: … of this many calls
    batch_clients: int = 2  # BENCH_BATCH_CLIENTS
    single_requests: int = 4_000  # BENCH_SINGLE_REQUESTS: POST /api/calls requests …
    single_clients: int = 16  # BENCH_SINGLE_CLIENTS: … from this many concurrent clients
    reps: int = 30  # BENCH_REPS: timed repetitions of each analytics question …
    warmups: int = 3  # BENCH_WARMUPS: … after this many untimed ones
    workers: int = 2  # BENCH_WORKERS: gunicorn workers
    budgets: int = 1_000  # BENCH_BUDGETS: budgets made before the HTTP measurements (0: none; bench/budgets.py)
    questions: bool = True  # BENCH_QUESTIONS=0: skip the analytics questions (ingest and budgets only)

    @property
    def days(self) -> int:
        return self.shape.days

    @property
    def seed(self) -> int:
        return self.shape.seed

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> BenchConfig:
        env = dict(os.environ if environ is None else environ)
        defaults = cls()
        return cls(
            calls=_int(env, "BENCH_CALLS", defaults.calls),
            database_url=env.get("BENCH_DATABASE_URL", "").strip() or None,
            keep=env.get("BENCH_KEEP", "").strip().lower() in {"1", "true", "yes"},
            shape=shape_from_env(env),
            copy_sample=_int(env, "BENCH_COPY_SAMPLE", defaults.copy_sample),
            batches=_int(env, "BENCH_BATCHES", defaults.batches),
            batch_size=_int(env, "BENCH_BATCH_SIZE", defaults.batch_size),
            batch_clients=_int(env, "BENCH_BATCH_CLIENTS", defaults.batch_clients),
            single_requests=_int(env, "BENCH_SINGLE_REQUESTS", defaults.single_requests),
            single_clients=_int(env, "BENCH_SINGLE_CLIENTS", defaults.single_clients),
            reps=_int(env, "BENCH_REPS", defaults.reps),
            warmups=_int(env, "BENCH_WARMUPS", defaults.warmups, minimum=0),
            workers=_int(env, "BENCH_WORKERS", defaults.workers),
            budgets=_int(env, "BENCH_BUDGETS", defaults.budgets, minimum=0),
            questions=env.get("BENCH_QUESTIONS", "1").strip().lower() not in {"0", "false", "no"},
        )


def _ints(env: dict[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """A list of whole numbers, separated by commas or spaces (1e6 and 1_000_000 are fine)."""
    raw = env.get(name, "").replace(",", " ").split()
    if not raw:
        return default
    return tuple(_int({name: item}, name, 0, minimum=1) for item in raw)


@dataclass(frozen=True)
class ScalingConfig:
    """The grid of ``python -m bench.scaling``: every number of calls × every number of users, the
    rest of each shape scaled from the base shape (BENCH_SHAPE and its variables)."""

    bench: BenchConfig  # the base shape and the shared settings (database, reps, warm-ups, workers)
    calls: tuple[int, ...] = (1_000_000, 3_000_000)  # BENCH_SCALING_CALLS
    users: tuple[int, ...] = (1_000, 10_000, 50_000)  # BENCH_SCALING_USERS

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ScalingConfig:
        env = dict(os.environ if environ is None else environ)
        bench = BenchConfig.from_env(env)
        if bench.shape.from_demo:
            raise BenchConfigError("BENCH_SHAPE=demo has a fixed organisation: the scaling grid varies users, "
                                   "so it starts from mid or large")
        defaults = cls(bench)
        return cls(bench, calls=_ints(env, "BENCH_SCALING_CALLS", defaults.calls),
                   users=_ints(env, "BENCH_SCALING_USERS", defaults.users))

    def shape_for(self, users: int) -> Shape:
        """The base shape with `users` users: assistants in proportion, endpoints with the square
        root of the proportion (a larger organisation has more of them, not as many more),
        companies as many as there are users for at most."""
        base = self.bench.shape
        ratio = users / base.users
        companies = min(base.companies, users)
        return replace(base, users=users, companies=companies,
                       assistants=max(companies, round(base.assistants * ratio)),
                       endpoints=max(1, round(base.endpoints * math.sqrt(ratio))),
                       customised=tuple(dict.fromkeys((*base.customised, "users", "assistants", "endpoints"))))
