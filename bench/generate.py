"""Benchmark traffic, fast: calls drawn from an organisation of any shape, millions a minute.

The organisation (companies, users, assistants, endpoints, models) is :mod:`bench.organisation`'s,
built from a :class:`~bench.shape.Shape`; the traffic shape in time (hour of day, weekday, slow
growth) and the token rules are :mod:`app.demo`'s: log-normal input and output per endpoint,
reasoning in the output of reasoning models, cache reads on some calls of models priced for them
and cache writes (some one-hour) on Anthropic's, OpenAI's offline endpoints partly on the batch
tier, failures with the provider's kind of error message. On top of the demo: a share of calls to
models the catalog does not know (unpriced), and, in live HTTP traffic, a share of late calls
stamped hours to days in the past.

Speed: one random stream per data set, flattened cumulative weights and ``bisect`` (a user, then
one of their assistants, then one of its routes), a few µs a call; the demo's one seeded
``Random`` and one ``NewCall`` per call would be about 40 µs.

A call comes out as a :class:`Call` tuple, then either

- as a COPY line for ``llm_call_log`` (:class:`CopyPricer` prices it: see there), or
- as the JSON body of ``POST /api/calls`` (:meth:`Traffic.api_body`; the server prices it).
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

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import demo
from app.models import ModelPrice
from app.pricing import PriceBook, PriceRef
from app.pricing.catalog import canonical
from app.pricing.cost import compute_cost
from app.pricing.usage import TokenUsage
from bench import organisation
from bench.llms import ERRORS, UNKNOWN
from bench.shape import MID, Shape

# The columns of `llm_call_log` a COPY line fills, in order: each the name of a field of `Call`
# or of the values `CopyPricer.line` adds (timestamp, total_tokens, costs, price_id, metadata,
# error_message); the other columns take their defaults (id from the identity, the audio token
# types 0, recorded_at now()). The one place to add a column the generator already knows.
COPY_COLUMNS = ("timestamp", "company_id", "user_id", "assistant_id", "assistant_name", "endpoint", "provider",
                "model", "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
                "cache_write_1h_tokens", "reasoning_tokens", "total_tokens", "service_tier", "input_cost",
                "output_cost", "total_cost", "price_id", "duration_ms", "success", "error_message", "request_id",
                "metadata", "canonical_provider", "canonical_model")
METADATA = '{"bench": true}'
NULL = "\\N"
ATTO = 10**18  # money columns keep 18 decimals: costs are computed in integer 1e-18 USD
NO_PRICE = "no price"  # a day on which a model has no price at all
LIVE_DAYS = 2  # live calls fall after the period: today, or tomorrow for a run that crosses midnight
LATE_HOURS = (1, 72)  # a late live call is stamped this many hours before it is sent (log-uniform)


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
    canonical_provider: str  # app.pricing.catalog.canonical(provider, model)
    canonical_model: str


# What one COPY line holds, by position: the call's fields, then what CopyPricer.line adds.
_LINE_VALUES = (*Call._fields, "timestamp", "total_tokens", "input_cost", "output_cost", "total_cost", "price_id",
                "error_message", "metadata")
# A COPY line as a format string over those values (None and booleans never reach it as such:
# error_message is NULL text, and PostgreSQL reads True/False).
_LINE = "\t".join(f"{{{_LINE_VALUES.index(column)}}}" for column in COPY_COLUMNS) + "\n"


class _Route(NamedTuple):
    """A route as the generation loop reads it (see bench.organisation.Route)."""

    endpoint: demo.Endpoint
    model: demo.Model
    canonical: tuple[str, str]
    errors: tuple[str, ...]


class Traffic:
    """Calls over the `days` whole UTC days before `today`, from the organisation `shape` describes."""

    def __init__(self, shape: Shape = MID, *, today: date | None = None) -> None:
        today = today or datetime.now(UTC).date()
        self.shape = shape
        self.days = shape.days
        self.seed = shape.seed
        self.end = datetime(today.year, today.month, today.day, tzinfo=UTC)  # exclusive
        self.start = self.end - timedelta(days=self.days)
        self.organisation = org = organisation.build(shape)

        def route(endpoint: demo.Endpoint, model: demo.Model) -> _Route:
            return _Route(endpoint, model, canonical(model.provider, model.name), ERRORS[model.provider])

        self._assistants = tuple((tuple(route(r.endpoint, r.model) for r in routes), cum)
                                 for routes, cum in org.assistant_routes)
        self._unknown = tuple(route(demo.Endpoint("", 0, 0), spelling) for llm in UNKNOWN
                              for spelling in llm.spellings)
        weights = []
        for day in range(self.days):
            weekday = demo.WEEKDAY_WEIGHTS[(self.start + timedelta(days=day)).weekday()]
            growth = 1 + 0.5 * day / self.days
            weights.extend(weekday * growth * hour for hour in demo.HOUR_WEIGHTS)
        self._hour_cum = list(accumulate(weights))
        # Text of every hour of the period, and of today and tomorrow (live calls: see `calls`).
        hours = [self.start + timedelta(hours=h) for h in range((self.days + LIVE_DAYS) * 24)]
        self.copy_hour = [f"{moment:%Y-%m-%d %H}:" for moment in hours]  # + "MM:SS.ffffff+00"
        self.iso_hour = [f"{moment:%Y-%m-%dT%H}:" for moment in hours]  # + "MM:SS.ffffff+00:00"
        for text in (*org.texts(), *(e for es in ERRORS.values() for e in es)):
            assert not set(text) & {"\t", "\n", "\r", "\\"}, text  # COPY lines are written unescaped

    def day_start(self, day: int) -> datetime:
        return self.start + timedelta(days=day)

    def calls(self, count: int, stream: str, *, live_until: datetime | None = None,
              late_share: float = 0.0) -> Iterator[Call]:
        """`count` calls of the data set `stream`, request ids ``bench-<stream>-<n>``.

        Spread over the period in the demo's traffic shape; or, with `live_until`, stamped
        between the period's end (today's midnight) and `live_until`, as live traffic is, but for
        a `late_share` of them stamped 1 to 72 hours before `live_until` (a client that sends
        late: a retry queue, a batch job, a phone back online).
        """
        rng = random.Random(f"ledger-bench:{self.seed}:{stream}")
        rand, gauss, randrange = rng.random, rng.gauss, rng.randrange
        org, assistants, unknown = self.organisation, self._assistants, self._unknown
        user_ids, user_company, user_cum, user_assistants = (org.user_ids, org.user_company, org.user_cum,
                                                             org.user_assistants)
        user_total = user_cum[-1]
        assistant_ids, assistant_names = org.assistant_ids, org.assistant_names
        hour_cum, hour_total = self._hour_cum, self._hour_cum[-1]
        failure_rate, unpriced_share = self.shape.failure_rate, self.shape.unpriced_share
        cache_read, cache_write_rate, one_hour, batch_rate = (demo.CACHE_READ_RATE, demo.CACHE_WRITE_RATE,
                                                              demo.ONE_HOUR_WRITE_RATE, demo.BATCH_RATE)
        live_span = live_end = 0
        late_low, late_span = math.log(LATE_HOURS[0] * 3.6e9), math.log(LATE_HOURS[1] / LATE_HOURS[0])
        if live_until is not None:
            live_end = int((live_until - self.start).total_seconds() * 1_000_000)
            live_span = max(1, live_end - self.days * 24 * 3_600_000_000)
            if live_span > LIVE_DAYS * 24 * 3_600_000_000 - 1:
                raise ValueError(f"live calls must fall within {LIVE_DAYS} days of {self.end}")
        for n in range(count):
            user = bisect_right(user_cum, rand() * user_total)
            mine, mine_cum = user_assistants[user]
            assistant = mine[bisect_right(mine_cum, rand() * mine_cum[-1])] if len(mine) > 1 else mine[0]
            routes, route_cum = assistants[assistant]
            endpoint, model, (canonical_provider, canonical_model), errors = \
                routes[bisect_right(route_cum, rand() * route_cum[-1])]
            if unpriced_share and rand() < unpriced_share:
                _, model, (canonical_provider, canonical_model), errors = unknown[randrange(len(unknown))]
            input_tokens = max(1, round(math.exp(endpoint.sigma * gauss()) * endpoint.input_median))
            visible = round(math.exp(endpoint.sigma * gauss()) * endpoint.output_median)
            reasoning = 0
            if model.reasoning and visible:
                low, high = model.reasoning
                reasoning = round(visible * (low + (high - low) * rand()))
            output_tokens = visible + reasoning
            cached = cache_write = cache_write_1h = 0
            if model.caches and input_tokens >= 1_024 and rand() < cache_read:
                cached = int(input_tokens * (0.3 + 0.6 * rand()))
            if model.cache_writes and input_tokens >= 1_024 and rand() < cache_write_rate:
                cache_write = int((input_tokens - cached) * (0.2 + 0.6 * rand()))
                cache_write_1h = cache_write if rand() < one_hour else 0
            batch = endpoint.batchable and model.provider == "openai" and rand() < batch_rate
            duration_ms = int((model.base_ms + model.ms_per_output_token * output_tokens) * math.exp(0.25 * gauss()))
            success = rand() >= failure_rate
            error = None
            if not success:
                error = errors[randrange(len(errors))]
                if "timed out" in error:
                    output_tokens = int(output_tokens * 0.2 * rand())
                    duration_ms = 60_000 + randrange(500)
                else:
                    output_tokens = 0
                    duration_ms = int(model.base_ms * (0.2 + 0.8 * rand()))
                reasoning = min(reasoning, output_tokens)
                cached = cache_write = cache_write_1h = 0
            if not live_span:
                hour, second, micro = bisect_right(hour_cum, rand() * hour_total), randrange(3_600), randrange(10**6)
            else:
                if late_share and rand() < late_share:
                    micros = max(0, live_end - int(math.exp(late_low + late_span * rand())))
                else:
                    micros = live_end - 1 - randrange(live_span)
                hour, micros = divmod(micros, 3_600_000_000)
                second, micro = divmod(micros, 1_000_000)
            yield Call(
                hour, second, micro, user_company[user], user_ids[user], assistant_ids[assistant],
                assistant_names[assistant], endpoint.path, model.provider, model.name,
                input_tokens, output_tokens, cached, cache_write, cache_write_1h, reasoning,
                "batch" if batch else "standard", duration_ms, success, error, f"bench-{stream}-{n}",
                canonical_provider, canonical_model,
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

    def earliest_live(self, now: datetime) -> datetime:
        """The earliest timestamp a live call sent before `now` can carry (late ones included)."""
        if not self.shape.late_share:
            return self.end
        return max(self.start, min(self.end, now - timedelta(hours=LATE_HOURS[1])))

    def live_bodies(self, count: int, stream: str, now: datetime) -> Iterator[dict[str, Any]]:
        """API bodies of `count` calls sent today (UTC) before `now`, as live traffic is: the
        shape's `late_share` of them stamped hours to days before `now`."""
        return (self.api_body(call) for call in self.calls(count, stream, live_until=now,
                                                           late_share=self.shape.late_share))


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
    overrides), looked up once per model as spelt, service tier, company (one with overrides of
    its own; the others share) and day (per call on a day when that price changes). The arithmetic is done here in integers, since the genai-prices engine
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
        # (provider, model, tier, company) → the price of each day of the period: one price all
        # day, NO_PRICE all day, or None on a day the price changes. Companies without overrides
        # of their own share one entry (company None), as they share every price.
        self._daily: dict[tuple[str, str, str, str | None], list[PriceRef | str | None]] = {}
        self._overridden = set(session.scalars(
            select(ModelPrice.company_id).where(ModelPrice.company_id.is_not(None)).distinct()))

    def _price(self, call: Call, timestamp: str) -> PriceRef | None:
        company = call.company_id if call.company_id in self._overridden else None
        key = (call.provider, call.model, call.service_tier, company)
        days = self._daily.get(key)
        if days is None:
            days = self._daily[key] = [self._day_price(key, day) for day in range(self._traffic.days + LIVE_DAYS)]
        price = days[call.hour // 24]
        if price is NO_PRICE:
            return None
        if price is None:  # a day with a price change: the exact instant decides
            price = self._book.price_at(call.provider, call.model, datetime.fromisoformat(timestamp),
                                        company_id=company, service_tier=call.service_tier)
        return price

    def _day_price(self, key: tuple[str, str, str, str | None], day: int) -> PriceRef | str | None:
        provider, model, tier, company = key
        first, last = (self._book.price_at(provider, model, moment, company_id=company, service_tier=tier)
                       for moment in (self._traffic.day_start(day),
                                      self._traffic.day_start(day + 1) - timedelta(microseconds=1)))
        if first is None and last is None:
            return NO_PRICE  # (a price that starts and ends within one day would be missed: none does)
        return first if first and last and first.id == last.id else None

    def line(self, call: Call) -> str:
        timestamp = self._traffic.timestamp_text(call)
        costs = self._costs(call, timestamp, self.lines)
        self.lines += 1
        return _LINE.format(*call, timestamp, call.input_tokens + call.output_tokens, *costs,
                            call.error or NULL, METADATA)

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
