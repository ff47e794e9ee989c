"""every billed token type, service tiers, overrides and tiered prices

- llm_call_log: cache writes (and their 1-hour part), audio in/out (and cached audio),
  reasoning tokens, and the request's service tier; checks that parts stay within totals.
- model_price: a price per service tier, operator overrides (global or per company) beside the
  catalog rows, prices for the new token types, and threshold tiers (jsonb).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 11:14:40.104202
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKEN_COLUMNS = ("cache_write_tokens", "cache_write_1h_tokens", "input_audio_tokens", "cached_audio_tokens",
                 "reasoning_tokens", "output_audio_tokens")
PRICE_COLUMNS = ("cache_write_1h_per_mtok", "input_audio_per_mtok", "cached_audio_per_mtok", "output_audio_per_mtok")
OLD_PRICES_NON_NEGATIVE = (
    "coalesce(input_per_mtok, 0) >= 0 AND coalesce(output_per_mtok, 0) >= 0"
    " AND coalesce(cache_read_per_mtok, 0) >= 0 AND coalesce(cache_write_per_mtok, 0) >= 0"
)


def upgrade() -> None:
    for column in TOKEN_COLUMNS:
        op.add_column("llm_call_log", sa.Column(column, sa.BigInteger(), server_default=sa.text("0"), nullable=False))
    op.add_column("llm_call_log",
                  sa.Column("service_tier", sa.Text(), server_default=sa.text("'standard'"), nullable=False))
    op.create_check_constraint(
        "token_details_non_negative", "llm_call_log",
        "cache_write_tokens >= 0 AND cache_write_1h_tokens >= 0 AND input_audio_tokens >= 0"
        " AND cached_audio_tokens >= 0 AND reasoning_tokens >= 0 AND output_audio_tokens >= 0",
    )
    op.create_check_constraint(
        "token_parts_within_totals", "llm_call_log",
        "cache_write_1h_tokens <= cache_write_tokens"
        " AND cached_audio_tokens <= cached_input_tokens AND cached_audio_tokens <= input_audio_tokens"
        " AND cached_input_tokens + cache_write_tokens + input_audio_tokens - cached_audio_tokens <= input_tokens"
        " AND reasoning_tokens <= output_tokens AND output_audio_tokens <= output_tokens",
    )

    op.add_column("model_price",
                  sa.Column("service_tier", sa.Text(), server_default=sa.text("'standard'"), nullable=False))
    op.add_column("model_price", sa.Column("kind", sa.Text(), server_default=sa.text("'catalog'"), nullable=False))
    op.add_column("model_price", sa.Column("company_id", sa.Text(), nullable=True))
    for column in PRICE_COLUMNS:
        op.add_column("model_price", sa.Column(column, sa.Numeric(precision=30, scale=18), nullable=True))
    op.add_column("model_price", sa.Column("tiers", postgresql.JSONB(astext_type=sa.Text()),
                                           server_default=sa.text("'{}'::jsonb"), nullable=False))
    op.drop_constraint(op.f("uq_model_price_provider_model_valid_from"), "model_price", type_="unique")
    op.create_unique_constraint(op.f("uq_model_price_key"), "model_price",
                                ["provider", "model", "service_tier", "kind", "company_id", "valid_from"],
                                postgresql_nulls_not_distinct=True)
    op.drop_constraint(op.f("ck_model_price_prices_non_negative"), "model_price", type_="check")
    op.create_check_constraint(
        "prices_non_negative", "model_price",
        OLD_PRICES_NON_NEGATIVE
        + " AND coalesce(cache_write_1h_per_mtok, 0) >= 0 AND coalesce(input_audio_per_mtok, 0) >= 0"
        " AND coalesce(cached_audio_per_mtok, 0) >= 0 AND coalesce(output_audio_per_mtok, 0) >= 0",
    )
    op.create_check_constraint("kind_known", "model_price", "kind IN ('catalog', 'override')")
    op.create_check_constraint("catalog_has_no_company", "model_price", "kind = 'override' OR company_id IS NULL")
    op.create_check_constraint("tier_known", "model_price",
                               "service_tier IN ('standard', 'batch', 'flex', 'priority', 'fast')")


def downgrade() -> None:
    # The old schema has one price per (provider, model, valid_from): overrides and tier prices
    # cannot be kept. Calls priced with them become unpriced (`flask costs reprice` prices them
    # again after a re-upgrade); nothing about the calls themselves is lost.
    dropped = "SELECT id FROM model_price WHERE kind <> 'catalog' OR service_tier <> 'standard'"
    op.execute(f"UPDATE llm_call_log SET price_id = NULL, input_cost = NULL, output_cost = NULL, total_cost = NULL "
               f"WHERE price_id IN ({dropped})")
    op.execute(f"DELETE FROM model_price WHERE id IN ({dropped})")
    for name in ("tier_known", "catalog_has_no_company", "kind_known", "prices_non_negative"):
        op.drop_constraint(op.f(f"ck_model_price_{name}"), "model_price", type_="check")
    op.create_check_constraint("prices_non_negative", "model_price", OLD_PRICES_NON_NEGATIVE)
    op.drop_constraint(op.f("uq_model_price_key"), "model_price", type_="unique")
    op.create_unique_constraint(op.f("uq_model_price_provider_model_valid_from"), "model_price",
                                ["provider", "model", "valid_from"])
    for column in ("tiers", *reversed(PRICE_COLUMNS), "company_id", "kind", "service_tier"):
        op.drop_column("model_price", column)

    op.drop_constraint(op.f("ck_llm_call_log_token_parts_within_totals"), "llm_call_log", type_="check")
    op.drop_constraint(op.f("ck_llm_call_log_token_details_non_negative"), "llm_call_log", type_="check")
    for column in ("service_tier", *reversed(TOKEN_COLUMNS)):
        op.drop_column("llm_call_log", column)
