"""Demo traffic: realistic, reproducible LLM calls recorded through the real ledger.

Three companies run assistants ("Support Agent", "Code Reviewer", …); each assistant serves a few
endpoints with its own model mix across OpenAI, Anthropic and Google, token sizes per endpoint,
prompt caching on some calls (Anthropic calls also write to the cache, some with a one-hour
lifetime), reasoning tokens on reasoning models (o3-mini, o4-mini, Gemini 2.5) counted in their
output, part of OpenAI's offline work (summaries, classification, embeddings) on the batch tier,
a few per cent failures and latencies per model. Timestamps fall
in the ``days`` whole days before ``today`` (UTC), busier on weekdays and in office hours, and
growing slowly over the period.

Call ``n`` of seed ``s`` depends on nothing but ``(s, n, days, today)``, so the same command
generates the same calls, and its ``requestId`` ``demo-<s>-<n>`` makes the ledger store it once:
re-running adds nothing, and a larger ``--calls`` adds only the new tail. Every model name used
here resolves in the bundled catalog (a test checks it), so demo calls are priced like API traffic.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate, islice
from typing import TypeVar

from sqlalchemy.orm import Session

from app.ledger import Ledger
from app.partitions import PartitionKeeper
from app.records import IngestResult, NewCall

DEFAULT_BATCH_SIZE = 2_000
T = TypeVar("T")


@dataclass(frozen=True)
class Model:
    provider: str
    name: str  # as a client sends it (dated snapshots, ``models/`` prefixes and all)
    base_ms: int  # time to first token and overheads
    ms_per_output_token: float
    caches: bool = True  # does this model's price have a cache-read rate worth simulating
    cache_writes: bool = False  # are cache writes billed (Anthropic), so worth simulating
    reasoning: tuple[float, float] | None = None  # reasoning tokens per visible output token (range)


@dataclass(frozen=True)
class Endpoint:
    path: str
    input_median: int
    output_median: int
    sigma: float = 0.6  # spread of the log-normal token counts
    batchable: bool = False  # offline work a client may send through a batch API


@dataclass(frozen=True)
class Route:
    """An endpoint an assistant serves, its share of the assistant's calls, and its model mix."""

    endpoint: Endpoint
    weight: float
    models: tuple[tuple[Model, float], ...]


@dataclass(frozen=True)
class Assistant:
    id: str
    name: str
    weight: float  # share of the company's calls
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class Company:
    id: str
    domain: str
    weight: float  # share of all calls
    users: tuple[str, ...]
    assistants: tuple[Assistant, ...]


GPT_4O = Model("openai", "gpt-4o", 450, 12.0)
GPT_4O_MINI = Model("openai", "gpt-4o-mini", 300, 7.0)
GPT_41_MINI = Model("openai", "gpt-4.1-mini", 320, 7.0)
O3_MINI = Model("openai", "o3-mini", 2_500, 18.0, reasoning=(1.0, 4.0))
O4_MINI = Model("openai", "o4-mini", 1_800, 12.0, reasoning=(0.8, 3.0))
OPENAI_EMBED = Model("openai", "text-embedding-3-small", 90, 0.0, caches=False)
SONNET = Model("anthropic", "claude-sonnet-4-5-20250929", 700, 14.0, cache_writes=True)
HAIKU = Model("anthropic", "claude-3-5-haiku-20241022", 350, 8.0, cache_writes=True)
GEMINI_FLASH = Model("google", "gemini-2.5-flash", 400, 5.0, reasoning=(0.2, 1.2))
GEMINI_PRO = Model("google", "models/gemini-2.5-pro", 1_200, 11.0, reasoning=(0.5, 2.5))
GEMINI_EMBED = Model("google", "gemini-embedding-001", 110, 0.0, caches=False)

CHAT = Endpoint("/chat", 1_800, 350)
SUMMARIZE = Endpoint("/summarize", 7_000, 300, sigma=0.7, batchable=True)
CLASSIFY = Endpoint("/classify", 450, 8, sigma=0.4, batchable=True)
EMBED = Endpoint("/embed", 350, 0, sigma=0.8, batchable=True)
REVIEW = Endpoint("/review", 9_000, 900, sigma=0.7)
DRAFT = Endpoint("/draft-email", 1_200, 450)

FIRST_NAMES = ("alice", "bob", "carol", "dmitri", "elena", "farid", "grace", "hiro", "ines", "jamal", "kofi",
               "lena", "mateo", "nadia", "oskar", "priya", "quinn", "rosa", "sven", "tomoko")
LAST_NAMES = ("nguyen", "smith", "garcia", "kowalski", "okafor", "silva", "tanaka", "muller", "haddad", "li")


def _users(domain: str, count: int) -> tuple[str, ...]:
    """``count`` distinct e-mail addresses (distinct for up to 200)."""
    return tuple(f"{FIRST_NAMES[k % 20]}.{LAST_NAMES[(k // 20 + k) % 10]}@{domain}" for k in range(count))


def _company(id_: str, domain: str, weight: float, users: int, *assistants: Assistant) -> Company:
    return Company(id_, domain, weight, _users(domain, users), assistants)


def _assistant(id_: str, name: str, weight: float, *routes: tuple[Endpoint, float, dict[Model, float]]) -> Assistant:
    return Assistant(id_, name, weight, tuple(Route(e, w, tuple(models.items())) for e, w, models in routes))


COMPANIES = (
    _company(
        "acme-corp", "acme.example", 0.5, 40,
        _assistant("acme-support", "Support Agent", 0.45,
                   (CHAT, 0.8, {GPT_4O_MINI: 0.55, HAIKU: 0.25, GPT_4O: 0.2}),
                   (CLASSIFY, 0.2, {GPT_4O_MINI: 1.0})),
        _assistant("acme-code-review", "Code Reviewer", 0.25,
                   (REVIEW, 0.85, {SONNET: 0.55, O3_MINI: 0.15, O4_MINI: 0.15, GPT_4O: 0.15}),
                   (CHAT, 0.15, {SONNET: 0.7, GPT_4O: 0.3})),
        _assistant("acme-kb", "Knowledge Search", 0.30,
                   (EMBED, 0.7, {OPENAI_EMBED: 1.0}),
                   (SUMMARIZE, 0.3, {GEMINI_FLASH: 0.7, GPT_4O_MINI: 0.3})),
    ),
    _company(
        "globex", "globex.example", 0.3, 25,
        _assistant("globex-sales", "Sales Copilot", 0.6,
                   (DRAFT, 0.6, {GPT_4O: 0.5, SONNET: 0.3, GEMINI_FLASH: 0.2}),
                   (CHAT, 0.4, {GPT_4O: 0.6, GEMINI_FLASH: 0.4})),
        _assistant("globex-summarizer", "Meeting Summarizer", 0.4,
                   (SUMMARIZE, 1.0, {GEMINI_PRO: 0.5, GEMINI_FLASH: 0.3, GPT_41_MINI: 0.2})),
    ),
    _company(
        "initech", "initech.example", 0.2, 12,
        _assistant("initech-triage", "Ticket Triage", 0.5,
                   (CLASSIFY, 0.7, {GPT_4O_MINI: 0.6, HAIKU: 0.4}),
                   (EMBED, 0.3, {GEMINI_EMBED: 1.0})),
        _assistant("initech-hr", "HR Helpdesk", 0.5,
                   (CHAT, 1.0, {GEMINI_FLASH: 0.5, GPT_41_MINI: 0.3, SONNET: 0.1, O3_MINI: 0.1})),
    ),
)

# Every model the demo sends, in first-use order (a test checks each has a price).
MODELS = tuple(dict.fromkeys(model for company in COMPANIES for assistant in company.assistants
                             for route in assistant.routes for model, _ in route.models))

FAILURE_RATE = 0.03
CACHE_READ_RATE = 0.35  # calls that reuse a cached system prompt / context
CACHE_WRITE_RATE = 0.25  # Anthropic calls that write a new prompt prefix to the cache …
ONE_HOUR_WRITE_RATE = 0.3  # … of which with the one-hour lifetime
BATCH_RATE = 0.4  # OpenAI calls of batchable endpoints sent through the Batch API
ERRORS = {
    "openai": ("429 Too Many Requests: Rate limit reached for requests", "500 Internal Server Error",
               "Request timed out after 60s", "400 context_length_exceeded"),
    "anthropic": ("529 overloaded_error: Overloaded", "429 rate_limit_error", "Request timed out after 60s"),
    "google": ("429 RESOURCE_EXHAUSTED: Quota exceeded", "503 UNAVAILABLE: The model is overloaded",
               "Request timed out after 60s"),
}

# Relative traffic by UTC hour (office hours peak, quiet nights) and by weekday (Mon … Sun).
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 11, 11, 9, 10, 11, 10, 9, 7, 5, 4, 3, 2, 2, 1)
WEEKDAY_WEIGHTS = (1.0, 1.05, 1.05, 1.0, 0.9, 0.3, 0.25)


@dataclass(frozen=True)
class DemoBatch:
    """What one batch of demo calls did in the ledger."""

    stored: int
    duplicates: int
    total_cost: Decimal  # of the batch's calls as stored (a duplicate counts with its original's cost)
    unpriced: int
    first: datetime
    last: datetime

    @classmethod
    def of(cls, results: Sequence[IngestResult]) -> DemoBatch:
        duplicates = sum(result.duplicate for result in results)
        stamps = [result.call.timestamp for result in results]
        return cls(
            stored=len(results) - duplicates,
            duplicates=duplicates,
            total_cost=sum((r.call.total_cost for r in results if r.call.total_cost is not None), Decimal(0)),
            unpriced=sum(not result.call.priced for result in results),
            first=min(stamps),
            last=max(stamps),
        )


@dataclass(frozen=True)
class DemoSummary:
    stored: int = 0
    duplicates: int = 0
    total_cost: Decimal = Decimal(0)
    unpriced: int = 0
    first: datetime | None = None
    last: datetime | None = None

    @property
    def calls(self) -> int:
        return self.stored + self.duplicates

    def plus(self, batch: DemoBatch) -> DemoSummary:
        return replace(
            self,
            stored=self.stored + batch.stored,
            duplicates=self.duplicates + batch.duplicates,
            total_cost=self.total_cost + batch.total_cost,
            unpriced=self.unpriced + batch.unpriced,
            first=min(self.first, batch.first) if self.first else batch.first,
            last=max(self.last, batch.last) if self.last else batch.last,
        )


class DemoTraffic:
    """The calls of one demo data set: ``count`` calls over the ``days`` days before ``today``."""

    def __init__(self, count: int, *, days: int = 90, seed: int = 42, today: date | None = None) -> None:
        if count < 0 or days < 1:
            raise ValueError("count must be >= 0 and days >= 1")
        self.count = count
        self.days = days
        self.seed = seed
        today = today or datetime.now(UTC).date()
        self.end = datetime(today.year, today.month, today.day, tzinfo=UTC)  # exclusive: today is not over
        self.start = self.end - timedelta(days=days)
        # Cumulative weight of each hour of the period: weekday × hour of day × slow growth (+50%).
        weights = []
        for day in range(days):
            weekday = WEEKDAY_WEIGHTS[(self.start + timedelta(days=day)).weekday()]
            growth = 1 + 0.5 * day / days
            weights.extend(weekday * growth * hour for hour in HOUR_WEIGHTS)
        self._hour_cum_weights = list(accumulate(weights))

    def __iter__(self) -> Iterator[NewCall]:
        return (self.call(n) for n in range(self.count))

    def call(self, n: int) -> NewCall:
        """Demo call number ``n``: the same for the same seed, days and day, whatever ``count`` is."""
        rng = random.Random(f"ledger-demo:{self.seed}:{n}")
        company = _pick(rng, COMPANIES, [c.weight for c in COMPANIES])
        assistant = _pick(rng, company.assistants, [a.weight for a in company.assistants])
        route = _pick(rng, assistant.routes, [r.weight for r in assistant.routes])
        model = _pick(rng, [m for m, _ in route.models], [w for _, w in route.models])
        endpoint = route.endpoint

        input_tokens = max(1, round(rng.lognormvariate(0, endpoint.sigma) * endpoint.input_median))
        visible = round(rng.lognormvariate(0, endpoint.sigma) * endpoint.output_median)
        reasoning = round(visible * rng.uniform(*model.reasoning)) if model.reasoning and visible else 0
        output_tokens = visible + reasoning  # reasoning is output, billed as such
        cached = cache_write = cache_write_1h = 0
        if model.caches and input_tokens >= 1_024 and rng.random() < CACHE_READ_RATE:
            cached = int(input_tokens * rng.uniform(0.3, 0.9))
        if model.cache_writes and input_tokens >= 1_024 and rng.random() < CACHE_WRITE_RATE:
            cache_write = int((input_tokens - cached) * rng.uniform(0.2, 0.8))
            cache_write_1h = cache_write if rng.random() < ONE_HOUR_WRITE_RATE else 0
        batch = model.provider == "openai" and endpoint.batchable and rng.random() < BATCH_RATE

        success = rng.random() >= FAILURE_RATE
        error = None
        duration_ms = int((model.base_ms + model.ms_per_output_token * output_tokens) * rng.lognormvariate(0, 0.25))
        if not success:
            error = rng.choice(ERRORS[model.provider])
            if "timed out" in error:  # the client gave up; some output may have streamed already
                output_tokens = int(output_tokens * rng.uniform(0, 0.2))
                duration_ms = 60_000 + rng.randrange(500)
            else:  # refused up front: no output, a fraction of the usual latency
                output_tokens = 0
                duration_ms = int(model.base_ms * rng.uniform(0.2, 1.0))
            reasoning = min(reasoning, output_tokens)  # a reasoning model streams its reasoning first
            cached = cache_write = cache_write_1h = 0

        hour = rng.choices(range(len(self._hour_cum_weights)), cum_weights=self._hour_cum_weights)[0]
        timestamp = self.start + timedelta(hours=hour, seconds=rng.randrange(3_600), microseconds=rng.randrange(10**6))
        # A few heavy users, a long tail of occasional ones.
        user_id = _pick(rng, company.users, [1 / (k + 1) ** 0.8 for k in range(len(company.users))])
        return NewCall(
            provider=model.provider,
            model=model.name,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_input_tokens=cached,
            cache_write_tokens=cache_write,
            cache_write_1h_tokens=cache_write_1h,
            reasoning_tokens=reasoning,
            service_tier="batch" if batch else "standard",
            company_id=company.id,
            duration_ms=duration_ms,
            success=success,
            error=error,
            user_id=user_id,
            endpoint=endpoint.path,
            assistant_id=assistant.id,
            assistant_name=assistant.name,
            timestamp=timestamp,
            request_id=f"demo-{self.seed}-{n}",
            metadata={"demo": True, "seed": self.seed},
        )


def record_demo(
    session: Session, calls: Iterable[NewCall], *, batch_size: int = DEFAULT_BATCH_SIZE,
    partitions: PartitionKeeper | None = None,
) -> Iterator[DemoBatch]:
    """Record calls through the ledger, batch by batch; the caller commits between batches."""
    ledger = Ledger(session, partitions=partitions)
    iterator = iter(calls)
    while batch := list(islice(iterator, batch_size)):
        yield DemoBatch.of(ledger.record(batch))


def _pick(rng: random.Random, items: Sequence[T], weights: Sequence[float]) -> T:
    return rng.choices(items, weights=weights)[0]
