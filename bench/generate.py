"""Benchmark traffic, fast: the demo's mix, a million calls in seconds.

The companies, assistants, routes, model mixes, users, error messages and traffic shape (hour of
day, weekday, growth) are :mod:`app.demo`'s; only the generation differs. The demo makes one
seeded `Random` and one `NewCall` per call (about 40 µs each) so that call *n* is reproducible on
its own; here one random stream per data set and flattened cumulative weights make a call a few
µs. Token counts follow the demo's rules: log-normal input and output, reasoning in the output of
reasoning models, cache reads on some calls and cache writes (some one-hour) on Anthropic's, and
OpenAI's offline endpoints partly on the batch tier.

A call comes out as a :class:`Call` tuple, then either

- as a COPY line for ``llm_call_log`` (:class:`CopyPricer` prices it: see there), or
- as the JSON body of ``POST /api/calls`` (:func:`api_body`; the server prices it).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from app import demo
from app.pricing import PriceBook, PriceRef
from app.pricing.cost import compute_cost
from app.pricing.usage import TokenUsage

# Columns a COPY line fills, in order; the others take their defaults (id from the identity,
# the audio token types 0, recorded_at now()).
COPY_COLUMNS = ("timestamp", "company_id", "user_id", "assistant_id", "assistant_name", "endpoint", "provider",
                "model", "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
                "cache_write_1h_tokens", "reasoning_tokens", "total_tokens", "service_tier", "input_cost",
                "output_cost", "total_cost", "price_id", "duration_ms", "success", "error_message", "request_id",
                "metadata")
METADATA = '{"bench": true}'
NULL = "\\N"
ATTO = 10**18  # money columns keep 18 decimals: costs are computed in integer 1e-18 USD
LIVE_DAYS = 2  # live calls fall after the period: today, or tomorrow for a run that crosses midnight


class Call(NamedTuple):
    hour: int  # hour of the period the call falls in (0 = the first hour of the first day)
    second: int  # within the hour
    micro: int
    company_id: str
    user_id: str
    assistant_id: str
    assistant_name: str
    endpoint: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    reasoning_tokens: int
    service_tier: str
    duration_ms: int
    success: bool
    error: str | None
    request_id: str


class _Route(NamedTuple):
    company: demo.Company
    assistant: demo.Assistant
    endpoint: demo.Endpoint
    model: demo.Model


def _flatten(levels: list[tuple[Any, float]]) -> tuple[list[Any], list[float]]:
    items = [item for item, _ in levels]
    return items, list(accumulate(weight for _, weight in levels))


class Traffic:
    """Calls over the `days` whole UTC days before `today`, in the demo's proportions."""

    def __init__(self, *, days: int = 90, today: date | None = None, seed: int = 4) -> None:
        today = today or datetime.now(UTC).date()
        self.days = days
        self.seed = seed
        self.end = datetime(today.year, today.month, today.day, tzinfo=UTC)  # exclusive
        self.start = self.end - timedelta(days=days)
        # Every (company, assistant, endpoint, model) with the product of the demo's weights,
        # each level normalised as `random.choices` does.
        routes = []
        for company in demo.COMPANIES:
            company_share = company.weight / sum(c.weight for c in demo.COMPANIES)
            for assistant in company.assistants:
                assistant_share = assistant.weight / sum(a.weight for a in company.assistants)
                for route in assistant.routes:
                    route_share = route.weight / sum(r.weight for r in assistant.routes)
                    for model, weight in route.models:
                        share = weight / sum(w for _, w in route.models)
                        routes.append((_Route(company, assistant, route.endpoint, model),
                                       company_share * assistant_share * route_share * share))
        self._routes, self._route_cum = _flatten(routes)
        self.models = tuple(dict.fromkeys((r.model.provider, r.model.name) for r in self._routes))
        self._users = {company.id: _flatten([(user, 1 / (k + 1) ** 0.8) for k, user in enumerate(company.users)])
                       for company in demo.COMPANIES}
        weights = []
        for day in range(days):
            weekday = demo.WEEKDAY_WEIGHTS[(self.start + timedelta(days=day)).weekday()]
            growth = 1 + 0.5 * day / days
            weights.extend(weekday * growth * hour for hour in demo.HOUR_WEIGHTS)
        self._hour_cum = list(accumulate(weights))
        # Text of every hour of the period, and of today and tomorrow (live calls: see `calls`).
        hours = [self.start + timedelta(hours=h) for h in range((days + LIVE_DAYS) * 24)]
        self.copy_hour = [f"{moment:%Y-%m-%d %H}:" for moment in hours]  # + "MM:SS.ffffff+00"
        self.iso_hour = [f"{moment:%Y-%m-%dT%H}:" for moment in hours]  # + "MM:SS.ffffff+00:00"
        for text in (*(c.id for c in demo.COMPANIES), *(u for c in demo.COMPANIES for u in c.users),
                     *(r.assistant.name for r in self._routes), *(e for es in demo.ERRORS.values() for e in es)):
            assert not set(text) & {"\t", "\n", "\r", "\\"}, text  # COPY lines are written unescaped

    def day_start(self, day: int) -> datetime:
        return self.start + timedelta(days=day)

    def calls(self, count: int, stream: str, *, live_until: datetime | None = None) -> Iterator[Call]:
        """`count` calls of the data set `stream`, request ids ``bench-<stream>-<n>``.

        Spread over the period in the demo's traffic shape; or, with `live_until`, stamped
        between the period's end (today's midnight) and `live_until`, as live traffic is.
        """
        rng = random.Random(f"ledger-bench:{self.seed}:{stream}")
        rand, gauss, randrange, choice = rng.random, rng.gauss, rng.randrange, rng.choice
        routes, route_cum, route_total = self._routes, self._route_cum, self._route_cum[-1]
        hour_cum, hour_total, users = self._hour_cum, self._hour_cum[-1], self._users
        live_span = 0
        if live_until is not None:
            live_span = max(1, int((live_until - self.end).total_seconds() * 1_000_000))
            if live_span > LIVE_DAYS * 24 * 3_600_000_000 - 1:
                raise ValueError(f"live calls must fall within {LIVE_DAYS} days of {self.end}")
        first_live_hour = self.days * 24
        for n in range(count):
            route = routes[bisect_right(route_cum, rand() * route_total)]
            model, endpoint, company = route.model, route.endpoint, route.company
            input_tokens = max(1, round(math.exp(endpoint.sigma * gauss()) * endpoint.input_median))
            visible = round(math.exp(endpoint.sigma * gauss()) * endpoint.output_median)
            reasoning = 0
            if model.reasoning and visible:
                low, high = model.reasoning
                reasoning = round(visible * (low + (high - low) * rand()))
            output_tokens = visible + reasoning
            cached = cache_write = cache_write_1h = 0
            if model.caches and input_tokens >= 1_024 and rand() < demo.CACHE_READ_RATE:
                cached = int(input_tokens * (0.3 + 0.6 * rand()))
            if model.cache_writes and input_tokens >= 1_024 and rand() < demo.CACHE_WRITE_RATE:
                cache_write = int((input_tokens - cached) * (0.2 + 0.6 * rand()))
                cache_write_1h = cache_write if rand() < demo.ONE_HOUR_WRITE_RATE else 0
            batch = model.provider == "openai" and endpoint.batchable and rand() < demo.BATCH_RATE
            duration_ms = int((model.base_ms + model.ms_per_output_token * output_tokens) * math.exp(0.25 * gauss()))
            success = rand() >= demo.FAILURE_RATE
            error = None
            if not success:
                error = choice(demo.ERRORS[model.provider])
                if "timed out" in error:
                    output_tokens = int(output_tokens * 0.2 * rand())
                    duration_ms = 60_000 + randrange(500)
                else:
                    output_tokens = 0
                    duration_ms = int(model.base_ms * (0.2 + 0.8 * rand()))
                reasoning = min(reasoning, output_tokens)
                cached = cache_write = cache_write_1h = 0
            user_list, user_cum = users[company.id]
            if live_span:
                hour, micros = divmod(randrange(live_span), 3_600_000_000)
                hour += first_live_hour
                second, micro = divmod(micros, 1_000_000)
            else:
                hour, second, micro = bisect_right(hour_cum, rand() * hour_total), randrange(3_600), randrange(10**6)
            yield Call(
                hour, second, micro, company.id, user_list[bisect_right(user_cum, rand() * user_cum[-1])],
                route.assistant.id, route.assistant.name, endpoint.path, model.provider, model.name,
                input_tokens, output_tokens, cached, cache_write, cache_write_1h, reasoning,
                "batch" if batch else "standard", duration_ms, success, error, f"bench-{stream}-{n}",
            )

    def timestamp_text(self, call: Call) -> str:
        """The call's time as PostgreSQL reads it in COPY."""
        return f"{self.copy_hour[call.hour]}{call.second // 60:02d}:{call.second % 60:02d}.{call.micro:06d}+00"

    def api_body(self, call: Call) -> dict[str, Any]:
        """The call as a client sends it to ``POST /api/calls``."""
        iso = f"{self.iso_hour[call.hour]}{call.second // 60:02d}:{call.second % 60:02d}.{call.micro:06d}+00:00"
        return {
            "provider": call.provider, "model": call.model, "inputTokens": call.input_tokens,
            "outputTokens": call.output_tokens, "cachedInputTokens": call.cached_input_tokens,
            "cacheWriteTokens": call.cache_write_tokens, "cacheWrite1hTokens": call.cache_write_1h_tokens,
            "reasoningTokens": call.reasoning_tokens, "serviceTier": call.service_tier,
            "durationMs": call.duration_ms, "success": call.success, "error": call.error,
            "companyId": call.company_id, "userId": call.user_id, "endpoint": call.endpoint,
            "assistantId": call.assistant_id, "assistantName": call.assistant_name, "timestamp": iso,
            "requestId": call.request_id, "metadata": {"bench": True},
        }


    def live_bodies(self, count: int, stream: str, now: datetime) -> Iterator[dict[str, Any]]:
        """API bodies of `count` calls made today (UTC) before `now`, as live traffic is."""
        return (self.api_body(call) for call in self.calls(count, stream, live_until=now))


class _Rates(NamedTuple):
    """A price as integer 1e-18 USD per token, when it is that simple (None otherwise)."""

    price_id: str
    input: int | None
    cached: int | None
    output: int | None
    tier_start: int | None  # the lowest input-token threshold above which tiers apply


def _per_token(per_mtok: Decimal | None) -> int | None:
    if per_mtok is None:
        return None
    value = per_mtok * 10**12  # per million tokens → 1e-18 USD per token
    return int(value) if value == value.to_integral_value() else None


def _money(atto: int) -> str:
    return f"{atto // ATTO}.{atto % ATTO:018d}"


class CopyPricer:
    """COPY lines for ``llm_call_log``, priced exactly as the ledger would price them.

    The price is the ledger's own: `PriceBook.price_at` (same precedence, history, tiers,
    overrides), looked up once per model, service tier, company and day (per call on a day when
    that price changes). The arithmetic is done here in integers, since the genai-prices engine
    the ledger uses costs ~35 µs a call; that shortcut covers input, cache reads, output and
    reasoning below any threshold tier, and any other call (cache writes, above a threshold) goes
    through the ledger's `compute_cost`. Every `check_every`-th call, and the first few of each
    price, is priced both ways, and a difference stops the run.
    """

    def __init__(self, session: Session, traffic: Traffic, *, check_every: int = 997) -> None:
        self._traffic = traffic
        self._book = PriceBook(session)
        self._check_every = check_every
        self._rates: dict[int, _Rates] = {}
        self._checked_per_price: dict[int, int] = {}
        self.checked = 0
        self.slow_path = 0
        self.lines = 0
        # (provider, model, tier, company) → price per day of the period; None on a day it changes.
        self._daily: dict[tuple[str, str, str, str], list[PriceRef | None]] = {}

    def _price(self, call: Call, timestamp: str) -> PriceRef | None:
        key = (call.provider, call.model, call.service_tier, call.company_id)
        days = self._daily.get(key)
        if days is None:
            days = self._daily[key] = [self._day_price(key, day) for day in range(self._traffic.days + LIVE_DAYS)]
        price = days[call.hour // 24]
        if price is None:  # a day with a price change (or no price at all): the exact instant decides
            price = self._book.price_at(call.provider, call.model, datetime.fromisoformat(timestamp),
                                        company_id=call.company_id, service_tier=call.service_tier)
        return price

    def _day_price(self, key: tuple[str, str, str, str], day: int) -> PriceRef | None:
        provider, model, tier, company = key
        first, last = (self._book.price_at(provider, model, moment, company_id=company, service_tier=tier)
                       for moment in (self._traffic.day_start(day),
                                      self._traffic.day_start(day + 1) - timedelta(microseconds=1)))
        return first if first and last and first.id == last.id else None

    def line(self, call: Call) -> str:
        timestamp = self._traffic.timestamp_text(call)
        costs = self._costs(call, timestamp, self.lines)
        self.lines += 1
        return "\t".join((
            timestamp, call.company_id, call.user_id, call.assistant_id, call.assistant_name, call.endpoint,
            call.provider, call.model, str(call.input_tokens), str(call.output_tokens),
            str(call.cached_input_tokens), str(call.cache_write_tokens), str(call.cache_write_1h_tokens),
            str(call.reasoning_tokens), str(call.input_tokens + call.output_tokens), call.service_tier, *costs,
            str(call.duration_ms), "t" if call.success else "f", call.error or NULL, call.request_id, METADATA,
        )) + "\n"

    def _costs(self, call: Call, timestamp: str, n: int) -> tuple[str, str, str, str]:
        """input_cost, output_cost, total_cost, price_id as COPY text."""
        price = self._price(call, timestamp)
        if price is None:
            return NULL, NULL, NULL, NULL
        rates = self._rates.get(price.id) or self._rates.setdefault(price.id, self._rates_of(price))
        fast = self._fast(rates, call)
        seen = self._checked_per_price.get(price.id, 0)
        if fast is None or n % self._check_every == 0 or seen < 20:
            exact = compute_cost(price, TokenUsage(
                call.input_tokens, call.output_tokens, cached_input_tokens=call.cached_input_tokens,
                cache_write_tokens=call.cache_write_tokens, cache_write_1h_tokens=call.cache_write_1h_tokens,
                reasoning_tokens=call.reasoning_tokens))
            if fast is None:
                self.slow_path += 1
                if exact is None:
                    return NULL, NULL, NULL, NULL
                return (format(exact.input_cost, "f"), format(exact.output_cost, "f"), format(exact.total_cost, "f"),
                        rates.price_id)
            if exact is None or (Decimal(fast[0]), Decimal(fast[1])) != (exact.input_cost, exact.output_cost):
                raise AssertionError(f"bench pricing differs from the ledger's for {call} at {price}: "
                                     f"{fast} vs {exact}")
            self._checked_per_price[price.id] = seen + 1
            self.checked += 1
        return fast

    @staticmethod
    def _rates_of(price: PriceRef) -> _Rates:
        starts = [int(step["start"]) for steps in price.tiers.values() for step in steps]
        return _Rates(str(price.id), _per_token(price.input_per_mtok), _per_token(price.cache_read_per_mtok),
                      _per_token(price.output_per_mtok), min(starts) if starts else None)

    @staticmethod
    def _fast(rates: _Rates, call: Call) -> tuple[str, str, str, str] | None:
        if rates.input is None or (call.output_tokens and rates.output is None):
            return None
        if call.cache_write_tokens or (call.cached_input_tokens and rates.cached is None):
            return None
        if rates.tier_start is not None and call.input_tokens > rates.tier_start:
            return None
        cached = call.cached_input_tokens
        input_cost = (call.input_tokens - cached) * rates.input + (cached * rates.cached if cached else 0)
        output_cost = call.output_tokens * rates.output if call.output_tokens else 0
        return _money(input_cost), _money(output_cost), _money(input_cost + output_cost), rates.price_id

    def chunks(self, calls: Iterator[Call], rows_per_chunk: int = 5_000) -> Iterator[bytes]:
        """COPY data in blocks of `rows_per_chunk` lines."""
        lines: list[str] = []
        for call in calls:
            lines.append(self.line(call))
            if len(lines) == rows_per_chunk:
                yield "".join(lines).encode()
                lines = []
        if lines:
            yield "".join(lines).encode()
