"""coarser rollups: daily without users, daily per user, hourly per company

llm_call_daily_model (the daily rollup without the user dimension) for summaries, daily series
and reports; llm_call_daily_user (day, company, user) for per-user totals; llm_call_hourly (per hour and company) for the rolling total. Both are backfilled
from the full-grain daily rollup or, for hours, from the raw calls still kept.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 12:28:40.873125
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


MEASURES = ("calls", "unpriced_calls", "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
            "cache_write_1h_tokens", "input_audio_tokens", "cached_audio_tokens", "reasoning_tokens",
            "output_audio_tokens", "total_tokens", "input_cost", "output_cost", "total_cost", "duration_ms_sum",
            "timed_calls")
KEYS = "day, company_id, provider, model, assistant_id, endpoint, success"
# The daily rollup without users is the full-grain one summed over users (that keeps the history
# of months whose raw calls were dropped); the latest assistant name is any one of that day's.
BACKFILL_DAILY_MODEL = (
    f"INSERT INTO llm_call_daily_model ({KEYS}, assistant_name, {', '.join(MEASURES)}) "
    f"SELECT {KEYS}, max(assistant_name), {', '.join(f'sum({m})' for m in MEASURES)} "
    f"FROM llm_call_daily GROUP BY {KEYS}"
)
BACKFILL_DAILY_USER = (
    f"INSERT INTO llm_call_daily_user (day, company_id, user_id, success, {', '.join(MEASURES)}) "
    f"SELECT day, company_id, user_id, success, {', '.join(f'sum({m})' for m in MEASURES)} "
    f"FROM llm_call_daily GROUP BY day, company_id, user_id, success"
)
RAW_MEASURES = ("count(*), count(*) FILTER (WHERE price_id IS NULL), sum(input_tokens), sum(output_tokens), "
                "sum(cached_input_tokens), sum(cache_write_tokens), sum(cache_write_1h_tokens), "
                "sum(input_audio_tokens), sum(cached_audio_tokens), sum(reasoning_tokens), sum(output_audio_tokens), "
                "sum(total_tokens), coalesce(sum(input_cost), 0), coalesce(sum(output_cost), 0), "
                "coalesce(sum(total_cost), 0), coalesce(sum(duration_ms), 0), count(duration_ms)")
BACKFILL_HOURLY = (
    f"INSERT INTO llm_call_hourly (hour, company_id, {', '.join(MEASURES)}) "
    f"SELECT date_trunc('hour', timestamp, 'UTC'), company_id, {RAW_MEASURES} FROM llm_call_log GROUP BY 1, 2"
)


def upgrade() -> None:
    op.create_table('llm_call_daily_model',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('company_id', sa.Text(), nullable=False),
    sa.Column('provider', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('assistant_id', sa.Text(), nullable=True),
    sa.Column('endpoint', sa.Text(), nullable=True),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.Column('assistant_name', sa.Text(), nullable=True),
    sa.Column('calls', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('unpriced_calls', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('input_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('output_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('cached_input_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('cache_write_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('cache_write_1h_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('input_audio_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('cached_audio_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('reasoning_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('output_audio_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('total_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('input_cost', sa.Numeric(precision=38, scale=18), server_default=sa.text('0'), nullable=False),
    sa.Column('output_cost', sa.Numeric(precision=38, scale=18), server_default=sa.text('0'), nullable=False),
    sa.Column('total_cost', sa.Numeric(precision=38, scale=18), server_default=sa.text('0'), nullable=False),
    sa.Column('duration_ms_sum', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('timed_calls', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.UniqueConstraint('day', 'company_id', 'provider', 'model', 'assistant_id', 'endpoint', 'success', name='uq_llm_call_daily_model_key', postgresql_nulls_not_distinct=True)
    )
    op.create_index(op.f('ix_llm_call_daily_model_assistant_id_day'), 'llm_call_daily_model', ['assistant_id', 'day'], unique=False)
    op.create_index(op.f('ix_llm_call_daily_model_company_id_day'), 'llm_call_daily_model', ['company_id', 'day'], unique=False)
    op.create_index('ix_llm_call_daily_model_by_day', 'llm_call_daily_model', ['day'], unique=False)
    op.create_index(op.f('ix_llm_call_daily_model_model_day'), 'llm_call_daily_model', ['model', 'day'], unique=False)
    op.create_table('llm_call_hourly',
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('company_id', sa.Text(), nullable=False),
    sa.Column('calls', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('unpriced_calls', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('input_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('output_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('cached_input_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('cache_write_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('cache_write_1h_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('input_audio_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('cached_audio_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('reasoning_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('output_audio_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('total_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('input_cost', sa.Numeric(precision=38, scale=18), server_default=sa.text('0'), nullable=False),
    sa.Column('output_cost', sa.Numeric(precision=38, scale=18), server_default=sa.text('0'), nullable=False),
    sa.Column('total_cost', sa.Numeric(precision=38, scale=18), server_default=sa.text('0'), nullable=False),
    sa.Column('duration_ms_sum', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('timed_calls', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.UniqueConstraint('hour', 'company_id', name='uq_llm_call_hourly_key')
    )
    op.create_table(
        "llm_call_daily_user",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("company_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        *[sa.Column(name, sa.Numeric(precision=38, scale=18) if name.endswith("_cost") else sa.BigInteger(),
                    server_default=sa.text("0"), nullable=False) for name in MEASURES],
        sa.UniqueConstraint("day", "company_id", "user_id", "success", name="uq_llm_call_daily_user_key",
                            postgresql_nulls_not_distinct=True),
    )
    op.create_index("ix_llm_call_daily_user_by_day", "llm_call_daily_user", ["day"])
    op.create_index(op.f("ix_llm_call_daily_user_company_id_day"), "llm_call_daily_user", ["company_id", "day"])
    op.execute(BACKFILL_DAILY_MODEL)
    op.execute(BACKFILL_DAILY_USER)
    op.execute(BACKFILL_HOURLY)


def downgrade() -> None:
    op.drop_table('llm_call_hourly')
    op.drop_table("llm_call_daily_user")
    op.drop_index(op.f('ix_llm_call_daily_model_model_day'), table_name='llm_call_daily_model')
    op.drop_index('ix_llm_call_daily_model_by_day', table_name='llm_call_daily_model')
    op.drop_index(op.f('ix_llm_call_daily_model_company_id_day'), table_name='llm_call_daily_model')
    op.drop_index(op.f('ix_llm_call_daily_model_assistant_id_day'), table_name='llm_call_daily_model')
    op.drop_table('llm_call_daily_model')
