"""BI access: the schema `bi` (views calls, daily_costs, prices_in_force), the registry of BI roles
(bi_role) and row-level security on the tables those views read

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-10 10:00:00

The views are ``security_invoker`` (PostgreSQL 15): whoever queries them needs SELECT on the
columns they read and sees only the rows the tables' policies show them. Row-level security is
ENABLED (not FORCED) on ``llm_call_log``, ``rollup_model_day`` and ``model_price``, with no policy:
their owner — the role the migrations and the service run as — superusers and BYPASSRLS roles are
not affected at all; any other role reads no row of them. ``flask costs bi-role`` (app/bi/roles.py)
gives each role it makes a row in ``bi_role`` (its company), a SELECT policy of its own on each
(the rows of the company its row names, global prices too; every row for a role of every company)
and its grants; ``bi_role`` shows a role its own row only. Only SELECT ever has a policy: even a role granted
more could write nothing.

The lists of columns below are frozen as of this revision (a migration adding a token or price
type recreates these views; tests/test_bi.py checks that they list every one).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROTECTED = ("llm_call_log", "rollup_model_day", "model_price")

TOKENS = {
    "input_tokens": "All input tokens: cache reads, cache writes and audio included.",
    "cached_input_tokens": "How many of input_tokens were cache reads.",
    "cache_write_tokens": "How many of input_tokens were written to the cache.",
    "cache_write_1h_tokens": "How many of cache_write_tokens were written with a one-hour lifetime (Anthropic).",
    "input_audio_tokens": "How many of input_tokens were audio.",
    "cached_audio_tokens": "How many of input_audio_tokens were cache reads (also counted in cached_input_tokens).",
    "output_tokens": "All output tokens: reasoning and audio included.",
    "reasoning_tokens": "How many of output_tokens were reasoning (billed as output).",
    "output_audio_tokens": "How many of output_tokens were audio.",
    "total_tokens": "input_tokens + output_tokens.",
}
PRICES = {
    "input_per_mtok": "Input", "output_per_mtok": "Output", "cache_read_per_mtok": "Cached input read",
    "cache_write_per_mtok": "Cache write (5 minutes)", "cache_write_1h_per_mtok": "Cache write (1 hour)",
    "input_audio_per_mtok": "Audio input", "cached_audio_per_mtok": "Cached audio input",
    "output_audio_per_mtok": "Audio output",
}

# Each view: (its SELECT, what it is, {column: what it holds}) — the comments BI tools show.
CALLS = (
    f"""SELECT id, "timestamp", recorded_at, company_id, user_id, assistant_id, assistant_name, endpoint,
        provider, model, canonical_provider, canonical_model, service_tier, {', '.join(TOKENS)},
        input_cost, output_cost, total_cost, price_id IS NOT NULL AS priced, price_id, unpriced_reason,
        success, error_message, duration_ms, request_id, metadata
    FROM llm_call_log""",
    "One row per LLM API call recorded by the ledger. Money is exact NUMERIC in USD, times are timestamptz. "
    "Filter on \"timestamp\": the calls are stored by month, and months older than the retention are dropped "
    "(bi.daily_costs keeps their sums).",
    {
        "id": "The call's id (with timestamp and company_id, its key).",
        "timestamp": "When the call was made (as the client reported it, stored in UTC).",
        "recorded_at": "When the ledger stored it.",
        "company_id": "The company the call was made for.",
        "user_id": "The end user, as the client sent it (NULL: none).",
        "assistant_id": "The assistant (agent) that made the call (NULL: none).",
        "assistant_name": "The assistant's name as sent with this call.",
        "endpoint": "The client's endpoint or feature that made the call.",
        "provider": "The provider as the client sent it (openai, anthropic, ...).",
        "model": "The model as the client sent it (e.g. gpt-4o-2024-08-06).",
        "canonical_provider": "The provider the call is grouped under.",
        "canonical_model": "The model the call is grouped and priced under (gpt-4o-2024-08-06: gpt-4o).",
        "service_tier": "standard, batch, flex, priority or fast.",
        **TOKENS,
        "input_cost": "USD for the input tokens; NULL when unpriced.",
        "output_cost": "USD for the output tokens; NULL when unpriced.",
        "total_cost": "input_cost + output_cost; NULL when unpriced (never 0 for an unknown price).",
        "priced": "Whether the call has a cost (false: no price applied; see unpriced_reason).",
        "price_id": "The model_price row it was priced with (see bi.prices_in_force); NULL when unpriced.",
        "unpriced_reason": "Why an unpriced call has no cost; NULL when priced.",
        "success": "False for a failed LLM call (recorded like any other).",
        "error_message": "The error of a failed call.",
        "duration_ms": "The call's duration in milliseconds (NULL: not reported).",
        "request_id": "The client's idempotency key (unique per company).",
        "metadata": "Free-form JSON the client attached.",
    },
)
DAILY_COSTS = (
    f"""SELECT day, company_id, provider, model, calls, failed_calls, unpriced_calls, {', '.join(TOKENS)},
        input_cost, output_cost, total_cost, duration_ms_sum, timed_calls,
        round(duration_ms_sum::numeric / nullif(timed_calls, 0), 1) AS avg_duration_ms
    FROM rollup_model_day
    WHERE calls <> 0""",
    "Calls, tokens and cost per UTC day, company and model: the ledger's day rollup, exactly the sums of the "
    "calls (kept in the transaction that stores them), and kept after the raw calls of old months are dropped. "
    "Costs sum the priced calls; unpriced_calls were not priced. A month is the sum of its days.",
    {
        "day": "The UTC day.",
        "company_id": "The company.",
        "provider": "The canonical provider.",
        "model": "The canonical model.",
        "calls": "Calls made that day.",
        "failed_calls": "Of them, failed (success false).",
        "unpriced_calls": "Of them, without a cost (their tokens are counted, their cost is not in the sums).",
        **{name: f"Sum over the calls. {text}" for name, text in TOKENS.items()},
        "input_cost": "USD, sum of the priced calls' input costs.",
        "output_cost": "USD, sum of the priced calls' output costs.",
        "total_cost": "USD, sum of the priced calls' total costs.",
        "duration_ms_sum": "Sum of the reported durations (ms).",
        "timed_calls": "Calls that reported a duration.",
        "avg_duration_ms": "duration_ms_sum / timed_calls (NULL when none reported one).",
    },
)
PRICES_IN_FORCE = (
    f"""SELECT id AS price_id, provider, model, service_tier, kind, company_id,
        CASE WHEN company_id IS NOT NULL THEN 1 WHEN kind = 'override' THEN 2 ELSE 3 END AS precedence,
        valid_from, window_start, window_end, window_zone, {', '.join(PRICES)}, tiers, source
    FROM (SELECT *, rank() OVER (PARTITION BY provider, model, service_tier, kind, company_id
                                 ORDER BY valid_from DESC) AS latest
          FROM model_price WHERE valid_from <= now()) AS started
    WHERE latest = 1""",
    "The prices in force now: per provider, model, service tier, kind and company, the rows of the latest "
    "valid_from that has begun (the all-day price, and any daily windows that replace it within their hours). "
    "A call of company C at tier T uses, among its model's rows: tier T before standard, then within a tier "
    "C's override (precedence 1), a global override (2), the catalog (3). Global rows are shown to every role, "
    "a company's overrides only to roles that read that company. Prices are USD per million tokens.",
    {
        "price_id": "The model_price row (bi.calls.price_id).",
        "provider": "The provider.",
        "model": "The model (canonical name).",
        "service_tier": "standard, batch, flex, priority or fast.",
        "kind": "catalog (the bundled genai-prices catalog) or override (a negotiated rate).",
        "company_id": "The company an override is for; NULL: everyone.",
        "precedence": "Within a tier: 1 the company's override, 2 a global override, 3 the catalog.",
        "valid_from": "From when this price applies.",
        "window_start": "A daily window's start (NULL: all day); the window replaces the all-day price.",
        "window_end": "A daily window's end (exclusive; before window_start: it wraps past midnight).",
        "window_zone": "The window's time zone (IANA); NULL: UTC.",
        **{name: f"{label}: USD per million tokens (NULL: not priced)." for name, label in PRICES.items()},
        "tiers": "Prices that replace a column's above an input-token threshold: "
                 "{column: [{start, price}]}, prices as exact decimal strings.",
        "source": "Where the price came from.",
    },
)
VIEWS = {"bi.calls": CALLS, "bi.daily_costs": DAILY_COSTS, "bi.prices_in_force": PRICES_IN_FORCE}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    op.create_table(
        "bi_role",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("company_id", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("name ~ '^[a-z][a-z0-9_]{0,62}$' AND name NOT LIKE 'pg\\_%'",
                           name=op.f("ck_bi_role_name_is_plain")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_bi_role")),
    )
    # A BI role's policies read its own row (to learn its company), never another's.
    op.execute("ALTER TABLE bi_role ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY own_row ON bi_role FOR SELECT USING (name = current_user)")
    op.execute("CREATE SCHEMA bi")
    op.execute("COMMENT ON SCHEMA bi IS " + _literal(
        "Views for BI tools: calls, daily_costs, prices_in_force. A role made by `flask costs bi-role` "
        "reads them (and only its company's rows when made with --company)."))
    for table in PROTECTED:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")

    for view, (select, comment, columns) in VIEWS.items():
        op.execute(f"CREATE VIEW {view} WITH (security_invoker = true) AS {select}")
        op.execute(f"COMMENT ON VIEW {view} IS {_literal(comment)}")
        for column, text in columns.items():
            op.execute(f'COMMENT ON COLUMN {view}."{column}" IS {_literal(text)}')


def downgrade() -> None:
    # Roles are the cluster's and outlive this revision: take back their policies and grants here,
    # since without row-level security their grants would show them every company's rows.
    bind = op.get_bind()
    for policy, table in bind.execute(sa.text(
            "SELECT quote_ident(policyname), quote_ident(tablename) FROM pg_policies "
            "WHERE schemaname = current_schema() AND tablename = ANY(:tables) "
            "AND policyname IN (SELECT name FROM bi_role)"), {"tables": list(PROTECTED)}).all():
        op.execute(f"DROP POLICY {policy} ON {table}")
    for role in bind.execute(sa.text(
            "SELECT quote_ident(name) FROM bi_role WHERE name IN (SELECT rolname FROM pg_roles)")).scalars().all():
        op.execute(f"REVOKE ALL ON {', '.join(PROTECTED)}, bi_role FROM {role}")
    for view in reversed(VIEWS):
        op.execute(f"DROP VIEW {view}")
    for table in reversed(PROTECTED):
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP SCHEMA bi")
    op.drop_table("bi_role")
