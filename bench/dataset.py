"""What the loaded data looks like: the companies, users, assistants, endpoints and models actually
present, how concentrated activity is, a busy and a median user to ask questions about, and the
row counts of ``llm_call_log`` and of every rollup table.

Read from the raw table once, untimed, with plain SQL (no rollup is trusted to describe the data
the rollups are measured on).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.ledger.rollups import rollup_tables
from app.pricing.catalog import canonical, resolve


@dataclass(frozen=True)
class Profile:
    calls: int
    companies: int
    users: int
    assistants: int
    endpoints: int
    models: int  # distinct (provider, model) the ledger groups under (catalog.canonical)
    spellings: int  # distinct (provider, model) as sent
    unknown_models: int  # of `models`, how many the catalog does not know
    top_users_share: float  # share of the calls made by the top 1% of users
    top_assistants_share: float  # … by the top 10% of assistants
    busy_user: str  # the user with the most calls
    busy_user_calls: int
    median_user: str  # the user in the middle of the ranking by calls
    median_user_calls: int
    busy_assistant: str = ""  # the assistant with the most calls
    busy_model: str = ""  # the canonical model with the most calls
    busy_provider: str = ""  # the canonical provider with the most calls
    busy_company: str = ""  # the company with the most calls

    def describe(self) -> str:
        return (f"{self.calls:,} calls from {self.companies:,} companies, {self.users:,} users, "
                f"{self.assistants:,} assistants, {self.endpoints:,} endpoints, {self.models:,} models "
                f"({self.spellings:,} spellings; {self.unknown_models} unknown to the catalog); the top 1% of users "
                f"make {self.top_users_share:.1%} of the calls, the top 10% of assistants {self.top_assistants_share:.1%}; "
                f"busy user {self.busy_user} ({self.busy_user_calls:,} calls), median user {self.median_user} "
                f"({self.median_user_calls:,} calls); busiest assistant {self.busy_assistant}, model "
                f"{self.busy_model}, provider {self.busy_provider}, company {self.busy_company}")


def top_share(counts: list[int], fraction: float) -> float:
    """The share of the total held by the largest `fraction` of the counts (at least one)."""
    if not counts:
        return 0.0
    ranked = sorted(counts, reverse=True)
    return sum(ranked[: max(1, round(len(ranked) * fraction))]) / sum(ranked)


def profile(conn: Connection) -> Profile:
    """Two groupings of the raw calls, in one scan: by (company, user, assistant) and by
    (endpoint, provider, model)."""
    rows = conn.execute(text(
        "SELECT GROUPING(company_id, user_id, assistant_id) = 0, company_id, user_id, assistant_id, "
        "endpoint, provider, model, count(*) FROM llm_call_log "
        "GROUP BY GROUPING SETS ((company_id, user_id, assistant_id), (endpoint, provider, model))")).all()
    users: Counter[str] = Counter()
    assistants: Counter[str] = Counter()
    by_company: Counter[str] = Counter()
    by_model: Counter[str] = Counter()
    by_provider: Counter[str] = Counter()
    companies, endpoints, spellings = set(), set(), set()
    calls = 0
    for by_who, company, user, assistant, endpoint, provider, model, count in rows:
        if by_who:
            calls += count
            companies.add(company)
            by_company[company] += count
            if user is not None:
                users[user] += count
            if assistant is not None:
                assistants[assistant] += count
        else:
            if endpoint is not None:
                endpoints.add(endpoint)
            spellings.add((provider, model))
            names = canonical(provider, model)
            by_provider[names[0]] += count
            by_model[names[1]] += count
    models = {canonical(provider, model) for provider, model in spellings}
    ranked = sorted(users.items(), key=lambda item: (-item[1], item[0]))
    busy, median = ranked[0] if ranked else ("", 0), ranked[len(ranked) // 2] if ranked else ("", 0)
    return Profile(
        calls=calls, companies=len(companies), users=len(users), assistants=len(assistants),
        endpoints=len(endpoints), models=len(models), spellings=len(spellings),
        unknown_models=len({canonical(p, m) for p, m in spellings if resolve(p, m) is None}),
        top_users_share=top_share(list(users.values()), 0.01),
        top_assistants_share=top_share(list(assistants.values()), 0.10),
        busy_user=busy[0], busy_user_calls=busy[1], median_user=median[0], median_user_calls=median[1],
        busy_assistant=_most(assistants), busy_model=_most(by_model), busy_provider=_most(by_provider),
        busy_company=_most(by_company),
    )


def _most(counts: Counter[str]) -> str:
    """The key with the most calls (ties: the first by name)."""
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0] if counts else ""


def row_counts(conn: Connection) -> dict[str, int]:
    """``llm_call_log``'s row count, then each rollup table's."""
    return {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("llm_call_log", *rollup_tables())}
