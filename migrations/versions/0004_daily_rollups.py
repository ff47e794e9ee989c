"""daily rollups of the call log

llm_call_daily: the log summed per UTC day × company × provider × model × user × assistant ×
endpoint × success, backfilled here from the calls already stored.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 11:25:42.188963
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TOKENS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens",
          "input_audio_tokens", "cached_audio_tokens", "reasoning_tokens", "output_audio_tokens", "total_tokens")
COSTS = ("input_cost", "output_cost", "total_cost")
BACKFILL = (
    "INSERT INTO llm_call_daily (day, company_id, provider, model, user_id, assistant_id, endpoint, success, "
    "assistant_name, calls, unpriced_calls, " + ", ".join(TOKENS + COSTS) + ", duration_ms_sum, timed_calls) "
    "SELECT (timezone('UTC', timestamp))::date, company_id, provider, model, user_id, assistant_id, endpoint, "
    "success, (array_agg(assistant_name ORDER BY timestamp DESC) FILTER (WHERE assistant_name IS NOT NULL))[1], "
    "count(*), count(*) FILTER (WHERE price_id IS NULL), "
    + ", ".join(f"sum({name})" for name in TOKENS) + ", "
    + ", ".join(f"coalesce(sum({name}), 0)" for name in COSTS)
    + ", coalesce(sum(duration_ms), 0), count(duration_ms) FROM llm_call_log GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
)


def upgrade() -> None:
    op.create_table('llm_call_daily',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('company_id', sa.Text(), nullable=False),
    sa.Column('provider', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Text(), nullable=True),
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
    sa.UniqueConstraint('day', 'company_id', 'provider', 'model', 'user_id', 'assistant_id', 'endpoint', 'success', name='uq_llm_call_daily_key', postgresql_nulls_not_distinct=True)
    )
    op.create_index(op.f('ix_llm_call_daily_assistant_id_day'), 'llm_call_daily', ['assistant_id', 'day'], unique=False)
    op.create_index(op.f('ix_llm_call_daily_company_id_day'), 'llm_call_daily', ['company_id', 'day'], unique=False)
    op.create_index(op.f('ix_llm_call_daily_model_day'), 'llm_call_daily', ['model', 'day'], unique=False)
    op.create_index(op.f('ix_llm_call_daily_user_id_day'), 'llm_call_daily', ['user_id', 'day'], unique=False)
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index(op.f('ix_llm_call_daily_user_id_day'), table_name='llm_call_daily')
    op.drop_index(op.f('ix_llm_call_daily_model_day'), table_name='llm_call_daily')
    op.drop_index(op.f('ix_llm_call_daily_company_id_day'), table_name='llm_call_daily')
    op.drop_index(op.f('ix_llm_call_daily_assistant_id_day'), table_name='llm_call_daily')
    op.drop_table('llm_call_daily')
