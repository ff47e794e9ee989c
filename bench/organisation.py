"""The organisation a :class:`~bench.shape.Shape` describes, built once, reproducibly from its seed.

- Companies have heavy-tailed sizes (``company_skew``): a few large ones hold most users and
  assistants, every one has at least one of each.
- An assistant belongs to a company and has a plausible name ("Legal Reviewer", "Sales
  Copilot"); its role decides which kinds of endpoint it serves (a summarizer long-input ones, a
  search assistant embeddings and chat). It serves 1–4 endpoints from one pool of endpoint paths
  shared across companies (``/chat``, ``/summarize``, … each with its own token-size medians, as
  app/demo.py's ``Endpoint``) and uses 1–3 chat models (plus an embedding model if it embeds),
  each under one spelling of its own (teams write ``gpt-4o`` or ``gpt-4o-2024-08-06``).
- A user belongs to a company and works with 1–4 of its assistants, the popular ones more often.
- Activity is Zipf-like: the user of rank k makes calls in proportion to ``k ** -user_skew``, the
  assistant of rank k is chosen by its users in proportion to ``k ** -assistant_skew`` (ranks are
  shuffled, so neither follows company size alone). Popular endpoints and models are used by more
  assistants. Every endpoint and model of the shape is used by some assistant, every assistant by
  some user.

The ``demo`` preset is app/demo.py's organisation instead (its three companies, their users and
assistants with the demo's weights), so that the benchmark can still be run on the data it ran
on before.

What comes out is flat and indexed — cumulative weights for ``bisect`` — since the generator
draws millions of calls from it (:mod:`bench.generate`).
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

from app import demo
from app.demo import Endpoint, Model
from bench.llms import PRICED, Llm
from bench.shape import Shape

# Endpoint kinds: what an endpoint does decides which assistants serve it and which models answer it.
CHAT, LONG, SHORT, WRITE, CODE, EMBED = "chat", "long", "short", "write", "code", "embed"

# The pool of endpoint paths, most used first; a shape of `endpoints = n` uses the first n (beyond
# this list, versioned paths: /v2/chat …). Each: (kind, Endpoint(path, input median, output
# median, spread, batchable)).
ENDPOINTS: tuple[tuple[str, Endpoint], ...] = (
    (CHAT, Endpoint("/chat", 1_800, 350)),
    (EMBED, Endpoint("/embed", 350, 0, sigma=0.8, batchable=True)),
    (LONG, Endpoint("/summarize", 7_000, 300, sigma=0.7, batchable=True)),
    (SHORT, Endpoint("/classify", 450, 8, sigma=0.4, batchable=True)),
    (WRITE, Endpoint("/draft-email", 1_200, 450)),
    (CODE, Endpoint("/code/complete", 2_500, 120, sigma=0.7)),
    (CHAT, Endpoint("/support/reply", 2_200, 300)),
    (EMBED, Endpoint("/search/query", 40, 0, sigma=0.5)),
    (LONG, Endpoint("/extract", 4_000, 250, sigma=0.6, batchable=True)),
    (LONG, Endpoint("/review", 9_000, 900, sigma=0.7)),
    (SHORT, Endpoint("/route", 600, 12, sigma=0.4)),
    (WRITE, Endpoint("/translate", 900, 900, sigma=0.7, batchable=True)),
    (CODE, Endpoint("/code/review", 9_000, 700, sigma=0.7)),
    (CHAT, Endpoint("/agent/step", 6_000, 250, sigma=0.8)),
    (EMBED, Endpoint("/search/index", 500, 0, sigma=0.7, batchable=True)),
    (LONG, Endpoint("/meeting/summary", 12_000, 600, sigma=0.6, batchable=True)),
    (SHORT, Endpoint("/moderate", 400, 5, sigma=0.5, batchable=True)),
    (WRITE, Endpoint("/rewrite", 800, 700)),
    (CHAT, Endpoint("/assistant/ask", 1_500, 400)),
    (CODE, Endpoint("/sql/generate", 3_000, 200)),
    (SHORT, Endpoint("/sentiment", 300, 4, sigma=0.4, batchable=True)),
    (LONG, Endpoint("/contract/review", 15_000, 900, sigma=0.6)),
    (EMBED, Endpoint("/rag/retrieve", 60, 0, sigma=0.5)),
    (WRITE, Endpoint("/reply/suggest", 1_500, 120)),
    (SHORT, Endpoint("/intent", 350, 6, sigma=0.4)),
    (CHAT, Endpoint("/faq/answer", 1_200, 200)),
    (LONG, Endpoint("/ticket/summarize", 3_000, 150, sigma=0.6, batchable=True)),
    (CODE, Endpoint("/tests/generate", 5_000, 1_500, sigma=0.7)),
    (WRITE, Endpoint("/product/description", 600, 400, batchable=True)),
    (SHORT, Endpoint("/triage", 800, 30, sigma=0.5, batchable=True)),
    (LONG, Endpoint("/report/analyse", 10_000, 700, sigma=0.7)),
    (EMBED, Endpoint("/docs/embed", 800, 0, sigma=0.8, batchable=True)),
    (CODE, Endpoint("/code/explain", 4_000, 600)),
    (WRITE, Endpoint("/proposal/draft", 3_000, 1_500)),
    (SHORT, Endpoint("/language/detect", 200, 3, sigma=0.4, batchable=True)),
)

# Assistant roles: a name and the endpoint kinds it serves (the first most).
ROLES = (
    ("Agent", (CHAT, SHORT)), ("Copilot", (CHAT, WRITE, LONG)), ("Assistant", (CHAT, WRITE)),
    ("Summarizer", (LONG,)), ("Reviewer", (LONG, CODE)), ("Triage", (SHORT, EMBED)),
    ("Search", (EMBED, CHAT)), ("Drafter", (WRITE,)), ("Analyst", (LONG, CHAT)),
    ("Code Assistant", (CODE, CHAT)), ("Helpdesk", (CHAT, EMBED)), ("Classifier", (SHORT,)),
)
DEPARTMENTS = ("Support", "Sales", "Legal", "HR", "Finance", "Engineering", "Marketing", "Data", "Security",
               "Operations", "Research", "Procurement", "Customer Success", "Compliance", "Product", "IT")
COMPANY_NAMES = ("acme-corp", "globex", "initech", "umbrella", "hooli", "stark-industries", "wayne-enterprises",
                 "wonka", "cyberdyne", "soylent", "tyrell", "massive-dynamic", "vandelay", "pied-piper", "aperture",
                 "black-mesa", "oscorp", "gringotts", "monarch", "nakatomi", "virtucon", "dunder-mifflin",
                 "prestige-worldwide", "sterling-cooper", "bluth", "krusty-krab", "los-pollos", "blue-sun",
                 "weyland-yutani", "tessier-ashpool", "ingen", "omni-consumer", "zorg", "buy-n-large", "rekall",
                 "spacely", "cogswell", "gekko", "duff", "contoso")
FIRST_NAMES = ("alice", "bob", "carol", "dmitri", "elena", "farid", "grace", "hiro", "ines", "jamal", "kofi", "lena",
               "mateo", "nadia", "oskar", "priya", "quinn", "rosa", "sven", "tomoko", "uma", "victor", "wei",
               "ximena", "yusuf", "zoe", "amara", "bruno", "chen", "dara", "emeka", "freya", "goran", "hana",
               "ivan", "jun", "kiran", "lucia", "malik", "noor")
LAST_NAMES = ("nguyen", "smith", "garcia", "kowalski", "okafor", "silva", "tanaka", "muller", "haddad", "li",
              "johansson", "rossi", "kim", "novak", "ahmed", "dubois", "santos", "ivanova", "mensah", "oconnor",
              "patel", "schmidt", "yamamoto", "lopez", "cohen")
ASSISTANTS_PER_USER = (1, 1, 1, 2, 2, 2, 2, 3, 3, 4)  # how many assistants a user works with, drawn uniformly
ENDPOINT_WEIGHTS = (1.0, 0.5, 0.3, 0.2)  # an assistant's first, second, … endpoint
MODEL_WEIGHTS = (1.0, 0.35, 0.12)  # an assistant's primary, second, third chat model
EXTRA_WEIGHT = 0.05  # an endpoint or model given to an assistant only so that every one is used


@dataclass(frozen=True)
class Route:
    """One way an assistant makes calls: an endpoint and the model (as spelt) that answers it."""

    endpoint: Endpoint
    model: Model


@dataclass(frozen=True)
class Organisation:
    """Everything the generator draws from, flat. Users and assistants are numbered from 0."""

    company_ids: tuple[str, ...]
    user_ids: tuple[str, ...]
    user_company: tuple[str, ...]  # user → company id
    user_cum: tuple[float, ...]  # cumulative activity weights of the users
    user_assistants: tuple[tuple[tuple[int, ...], tuple[float, ...]], ...]  # user → (assistants, cum weights)
    assistant_ids: tuple[str, ...]
    assistant_names: tuple[str, ...]
    assistant_company: tuple[str, ...]  # assistant → company id
    assistant_routes: tuple[tuple[tuple[Route, ...], tuple[float, ...]], ...]  # assistant → (routes, cum weights)

    @property
    def endpoints(self) -> set[str]:
        return {route.endpoint.path for routes, _ in self.assistant_routes for route in routes}

    @property
    def models(self) -> set[tuple[str, str]]:
        """(provider, model) of every spelling used (the unknown models aside)."""
        return {(route.model.provider, route.model.name) for routes, _ in self.assistant_routes for route in routes}

    def texts(self) -> list[str]:
        """Every string a call can carry, to check that none needs escaping in COPY."""
        return [*self.company_ids, *self.user_ids, *self.assistant_ids, *self.assistant_names, *self.endpoints]


def build(shape: Shape) -> Organisation:
    return _from_demo() if shape.from_demo else _Builder(shape).build()


def endpoint_pool(count: int) -> list[tuple[str, Endpoint]]:
    """The first `count` endpoints: the list above, then versioned paths (/v2/…, /v3/…) of it."""
    pool = []
    for n in range(count):
        version = n // len(ENDPOINTS) + 1
        kind, endpoint = ENDPOINTS[n % len(ENDPOINTS)]
        if version > 1:  # a newer version of the same endpoint, with somewhat larger prompts
            endpoint = Endpoint(f"/v{version}{endpoint.path}", int(endpoint.input_median * 1.25),
                                endpoint.output_median, endpoint.sigma, endpoint.batchable)
        pool.append((kind, endpoint))
    return pool


def zipf(count: int, skew: float) -> list[float]:
    return [1 / (rank + 1) ** skew for rank in range(count)]


def apportion(total: int, weights: list[float], minimum: int = 1) -> list[int]:
    """`total` split in proportion to `weights`, each part at least `minimum` (largest remainders)."""
    spare = total - minimum * len(weights)
    shares = [spare * weight / sum(weights) for weight in weights]
    parts = [int(share) for share in shares]
    by_remainder = sorted(range(len(weights)), key=lambda k: parts[k] - shares[k])
    for k in by_remainder[: spare - sum(parts)]:
        parts[k] += 1
    return [part + minimum for part in parts]


class _Builder:
    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.rng = random.Random(f"ledger-bench-organisation:{shape.seed}")

    def build(self) -> Organisation:
        shape, rng = self.shape, self.rng
        sizes = zipf(shape.companies, shape.company_skew)
        companies = [_company_id(n) for n in range(shape.companies)]
        users_per_company = apportion(shape.users, sizes)
        assistants_per_company = apportion(shape.assistants, sizes)

        # Assistants: a name, a role, endpoints and models; popularity by a shuffled Zipf rank.
        pool = endpoint_pool(shape.endpoints)
        llms = PRICED[: shape.models]
        chat_llms = [llm for llm in llms if not llm.embeds]
        embed_llms = [llm for llm in llms if llm.embeds]
        assistant_company: list[int] = []
        names: list[str] = []
        ids: list[str] = []
        plans: list[_AssistantPlan] = []
        for company, count in enumerate(assistants_per_company):
            taken: dict[str, int] = {}
            for _ in range(count):
                role, kinds = ROLES[rng.randrange(len(ROLES))]
                name = f"{DEPARTMENTS[rng.randrange(len(DEPARTMENTS))]} {role}"
                taken[name] = taken.get(name, 0) + 1
                if taken[name] > 1:
                    name = f"{name} {taken[name]}"
                ids.append(f"{companies[company]}-{name.lower().replace(' ', '-')}")
                names.append(name)
                assistant_company.append(company)
                plans.append(self._plan(kinds, pool, chat_llms, embed_llms))
        self._cover(plans, pool, llms)
        assistant_weights = self._shuffled(zipf(shape.assistants, shape.assistant_skew))

        # Users: a company, an activity weight, the assistants of their company they work with.
        company_assistants: list[list[int]] = [[] for _ in companies]
        for assistant, company in enumerate(assistant_company):
            company_assistants[company].append(assistant)
        user_weights = self._shuffled(zipf(shape.users, shape.user_skew))
        user_ids: list[str] = []
        user_company: list[str] = []
        user_sets: list[list[int]] = []
        for company, count in enumerate(users_per_company):
            mine = company_assistants[company]
            cum = list(accumulate(assistant_weights[a] for a in mine))
            for k in range(count):
                user_ids.append(_email(k, companies[company]))
                user_company.append(companies[company])
                wanted = min(len(mine), ASSISTANTS_PER_USER[rng.randrange(len(ASSISTANTS_PER_USER))])
                chosen: list[int] = []
                for _attempt in range(50):  # by popularity, without repeats (the cap: a company of
                    if len(chosen) == wanted:  # one popular assistant and one nobody would pick)
                        break
                    assistant = mine[bisect_right(cum, rng.random() * cum[-1])]
                    if assistant not in chosen:
                        chosen.append(assistant)
                user_sets.append(chosen)
        # An assistant nobody chose is given to a user of its company.
        used = {assistant for chosen in user_sets for assistant in chosen}
        first_user = list(accumulate([0, *users_per_company]))
        for assistant, company in enumerate(assistant_company):
            if assistant not in used:
                user_sets[first_user[company] + rng.randrange(users_per_company[company])].append(assistant)

        return Organisation(
            company_ids=tuple(companies),
            user_ids=tuple(user_ids),
            user_company=tuple(user_company),
            user_cum=tuple(accumulate(user_weights)),
            user_assistants=tuple((tuple(chosen), tuple(accumulate(assistant_weights[a] for a in chosen)))
                                  for chosen in user_sets),
            assistant_ids=tuple(ids),
            assistant_names=tuple(names),
            assistant_company=tuple(companies[company] for company in assistant_company),
            assistant_routes=tuple(plan.routes() for plan in plans),
        )

    def _shuffled(self, weights: list[float]) -> list[float]:
        self.rng.shuffle(weights)
        return weights

    def _plan(self, kinds: tuple[str, ...], pool: list[tuple[str, Endpoint]], chat_llms: list[Llm],
              embed_llms: list[Llm]) -> _AssistantPlan:
        rng = self.rng
        fitting = [n for n, (kind, _) in enumerate(pool) if kind in kinds] or list(range(len(pool)))
        endpoint_cum = list(accumulate(1 / (rank + 1) for rank in range(len(fitting))))  # popular ones first
        endpoints: list[int] = []
        for _ in range(min(len(fitting), 1 + rng.randrange(4))):
            for _attempt in range(20):
                n = fitting[bisect_right(endpoint_cum, rng.random() * endpoint_cum[-1])]
                if n not in endpoints:
                    endpoints.append(n)
                    break
        plan = _AssistantPlan(pool, [(n, ENDPOINT_WEIGHTS[k]) for k, n in enumerate(endpoints)], [], [])
        model_cum = list(accumulate(1 / (rank + 1) for rank in range(len(chat_llms))))
        for weight in MODEL_WEIGHTS[: 1 + rng.randrange(len(MODEL_WEIGHTS))]:
            llm = chat_llms[bisect_right(model_cum, rng.random() * model_cum[-1])]
            if all(llm is not chosen for chosen, *_ in plan.chat):
                plan.chat.append((llm, weight, self._spelling(llm)))
        embed_cum = list(accumulate(1 / (rank + 1) for rank in range(len(embed_llms))))
        llm = embed_llms[bisect_right(embed_cum, rng.random() * embed_cum[-1])]
        plan.embed.append((llm, 1.0, self._spelling(llm)))
        return plan

    def _spelling(self, llm: Llm) -> Model:
        return llm.spellings[self.rng.randrange(len(llm.spellings))]

    def _cover(self, plans: list[_AssistantPlan], pool: list[tuple[str, Endpoint]], llms: tuple[Llm, ...]) -> None:
        """Give every endpoint and model of the shape to some assistant (as a minor one)."""
        rng = self.rng
        served = {n for plan in plans for n, _ in plan.endpoints}
        for n in range(len(pool)):
            if n not in served:
                plans[rng.randrange(len(plans))].endpoints.append((n, EXTRA_WEIGHT))
        for llm in llms:
            if any(chosen is llm for plan in plans for chosen, *_ in plan.models_used()):
                continue
            if llm.embeds:
                # Every endpoint is served by now; with none for embeddings (a shape of one
                # endpoint), the embedding models stay unused.
                embedding = [plan for plan in plans if plan.embeds]
                if embedding:
                    embedding[rng.randrange(len(embedding))].embed.append((llm, EXTRA_WEIGHT, self._spelling(llm)))
            else:
                chatting = [plan for plan in plans if plan.chats] or plans
                chatting[rng.randrange(len(chatting))].chat.append((llm, EXTRA_WEIGHT, self._spelling(llm)))


@dataclass
class _AssistantPlan:
    pool: list[tuple[str, Endpoint]]
    endpoints: list[tuple[int, float]]  # (endpoint in the pool, weight)
    chat: list[tuple[Llm, float, Model]]  # (model, weight, its spelling here)
    embed: list[tuple[Llm, float, Model]]

    @property
    def embeds(self) -> bool:
        return any(self.pool[n][0] == EMBED for n, _ in self.endpoints)

    @property
    def chats(self) -> bool:
        return any(self.pool[n][0] != EMBED for n, _ in self.endpoints)

    def models_used(self) -> list[tuple[Llm, float, Model]]:
        return (self.chat if self.chats else []) + (self.embed if self.embeds else [])

    def routes(self) -> tuple[tuple[Route, ...], tuple[float, ...]]:
        routes, weights = [], []
        for n, endpoint_weight in self.endpoints:
            kind, endpoint = self.pool[n]
            models = self.embed if kind == EMBED else self.chat
            share = sum(weight for _, weight, _ in models)
            for _, weight, spelling in models:
                routes.append(Route(endpoint, spelling))
                weights.append(endpoint_weight * weight / share)
        return tuple(routes), tuple(accumulate(weights))


def _company_id(n: int) -> str:
    name = COMPANY_NAMES[n % len(COMPANY_NAMES)]
    return name if n < len(COMPANY_NAMES) else f"{name}-{n // len(COMPANY_NAMES) + 1}"


def _email(k: int, company: str) -> str:
    """The k-th user of a company: distinct for every k."""
    first, rest = FIRST_NAMES[k % len(FIRST_NAMES)], k // len(FIRST_NAMES)
    last, number = LAST_NAMES[(rest + k) % len(LAST_NAMES)], rest // len(LAST_NAMES)
    return f"{first}.{last}{number or ''}@{company}.example"


def _from_demo() -> Organisation:
    """app/demo.py's organisation, with the demo's weights: a company's share × its user's, and the
    company's assistants for every user of it (the demo draws assistant and user independently)."""
    total = sum(company.weight for company in demo.COMPANIES)
    user_ids, user_company, user_weights, user_sets = [], [], [], []
    assistant_ids, assistant_names, assistant_routes = [], [], []
    for company in demo.COMPANIES:
        mine = list(range(len(assistant_ids), len(assistant_ids) + len(company.assistants)))
        for assistant in company.assistants:
            assistant_ids.append(assistant.id)
            assistant_names.append(assistant.name)
            routes, weights = [], []
            route_total = sum(route.weight for route in assistant.routes)
            for route in assistant.routes:
                model_total = sum(weight for _, weight in route.models)
                for model, weight in route.models:
                    routes.append(Route(route.endpoint, model))
                    weights.append(route.weight / route_total * weight / model_total)
            assistant_routes.append((tuple(routes), tuple(accumulate(weights))))
        assistant_cum = tuple(accumulate(assistant.weight for assistant in company.assistants))
        user_total = sum(1 / (k + 1) ** 0.8 for k in range(len(company.users)))
        for k, user in enumerate(company.users):
            user_ids.append(user)
            user_company.append(company.id)
            user_weights.append(company.weight / total * (1 / (k + 1) ** 0.8) / user_total)
            user_sets.append((tuple(mine), assistant_cum))
    return Organisation(
        company_ids=tuple(company.id for company in demo.COMPANIES),
        user_ids=tuple(user_ids),
        user_company=tuple(user_company),
        user_cum=tuple(accumulate(user_weights)),
        user_assistants=tuple(user_sets),
        assistant_ids=tuple(assistant_ids),
        assistant_names=tuple(assistant_names),
        assistant_company=tuple(company.id for company in demo.COMPANIES for _ in company.assistants),
        assistant_routes=tuple(assistant_routes),
    )
