"""initial schema: call log, idempotency keys, prices

Revision ID: 0001
Revises:
Create Date: 2026-11-24 10:55:37.748049
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('model_price',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('provider', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('input_per_mtok', sa.Numeric(precision=30, scale=18), nullable=True),
    sa.Column('output_per_mtok', sa.Numeric(precision=30, scale=18), nullable=True),
    sa.Column('cache_read_per_mtok', sa.Numeric(precision=30, scale=18), nullable=True),
    sa.Column('cache_write_per_mtok', sa.Numeric(precision=30, scale=18), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('coalesce(input_per_mtok, 0) >= 0 AND coalesce(output_per_mtok, 0) >= 0 AND coalesce(cache_read_per_mtok, 0) >= 0 AND coalesce(cache_write_per_mtok, 0) >= 0', name=op.f('ck_model_price_prices_non_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_price')),
    sa.UniqueConstraint('provider', 'model', 'valid_from', name=op.f('uq_model_price_provider_model_valid_from'))
    )
    op.create_table('llm_call_log',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('company_id', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Text(), nullable=True),
    sa.Column('assistant_id', sa.Text(), nullable=True),
    sa.Column('assistant_name', sa.Text(), nullable=True),
    sa.Column('endpoint', sa.Text(), nullable=True),
    sa.Column('provider', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('input_tokens', sa.BigInteger(), nullable=False),
    sa.Column('output_tokens', sa.BigInteger(), nullable=False),
    sa.Column('cached_input_tokens', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('total_tokens', sa.BigInteger(), nullable=False),
    sa.Column('input_cost', sa.Numeric(precision=30, scale=18), nullable=True),
    sa.Column('output_cost', sa.Numeric(precision=30, scale=18), nullable=True),
    sa.Column('total_cost', sa.Numeric(precision=30, scale=18), nullable=True),
    sa.Column('price_id', sa.BigInteger(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('success', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('request_id', sa.Text(), nullable=True),
    sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.CheckConstraint('(price_id IS NULL AND input_cost IS NULL AND output_cost IS NULL AND total_cost IS NULL) OR (price_id IS NOT NULL AND total_cost = input_cost + output_cost)', name=op.f('ck_llm_call_log_costs_priced_together')),
    sa.CheckConstraint('cached_input_tokens <= input_tokens', name=op.f('ck_llm_call_log_cached_within_input')),
    sa.CheckConstraint('duration_ms IS NULL OR duration_ms >= 0', name=op.f('ck_llm_call_log_duration_non_negative')),
    sa.CheckConstraint('input_tokens >= 0 AND output_tokens >= 0 AND cached_input_tokens >= 0', name=op.f('ck_llm_call_log_tokens_non_negative')),
    sa.CheckConstraint('total_tokens = input_tokens + output_tokens', name=op.f('ck_llm_call_log_total_tokens_sum')),
    sa.ForeignKeyConstraint(['price_id'], ['model_price.id'], name=op.f('fk_llm_call_log_price_id_model_price'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_llm_call_log'))
    )
    op.create_index(op.f('ix_llm_call_log_assistant_id_timestamp'), 'llm_call_log', ['assistant_id', 'timestamp'], unique=False)
    op.create_index(op.f('ix_llm_call_log_company_id_timestamp'), 'llm_call_log', ['company_id', 'timestamp'], unique=False)
    op.create_index(op.f('ix_llm_call_log_endpoint_timestamp'), 'llm_call_log', ['endpoint', 'timestamp'], unique=False)
    op.create_index('ix_llm_call_log_failed', 'llm_call_log', ['timestamp'], unique=False, postgresql_where=sa.text('NOT success'))
    op.create_index(op.f('ix_llm_call_log_model_timestamp'), 'llm_call_log', ['model', 'timestamp'], unique=False)
    op.create_index(op.f('ix_llm_call_log_provider_timestamp'), 'llm_call_log', ['provider', 'timestamp'], unique=False)
    op.create_index(op.f('ix_llm_call_log_timestamp'), 'llm_call_log', ['timestamp'], unique=False)
    op.create_index(op.f('ix_llm_call_log_total_cost'), 'llm_call_log', ['total_cost'], unique=False)
    op.create_index('ix_llm_call_log_unpriced', 'llm_call_log', ['timestamp'], unique=False, postgresql_where=sa.text('price_id IS NULL'))
    op.create_index(op.f('ix_llm_call_log_user_id_timestamp'), 'llm_call_log', ['user_id', 'timestamp'], unique=False)
    op.create_table('llm_call_request',
    sa.Column('company_id', sa.Text(), nullable=False),
    sa.Column('request_id', sa.Text(), nullable=False),
    sa.Column('call_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['llm_call_log.id'], name=op.f('fk_llm_call_request_call_id_llm_call_log'), ondelete='CASCADE', initially='DEFERRED', deferrable=True),
    sa.PrimaryKeyConstraint('company_id', 'request_id', name=op.f('pk_llm_call_request'))
    )
    op.create_index(op.f('ix_llm_call_request_call_id'), 'llm_call_request', ['call_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_llm_call_request_call_id'), table_name='llm_call_request')
    op.drop_table('llm_call_request')
    op.drop_index(op.f('ix_llm_call_log_user_id_timestamp'), table_name='llm_call_log')
    op.drop_index('ix_llm_call_log_unpriced', table_name='llm_call_log', postgresql_where=sa.text('price_id IS NULL'))
    op.drop_index(op.f('ix_llm_call_log_total_cost'), table_name='llm_call_log')
    op.drop_index(op.f('ix_llm_call_log_timestamp'), table_name='llm_call_log')
    op.drop_index(op.f('ix_llm_call_log_provider_timestamp'), table_name='llm_call_log')
    op.drop_index(op.f('ix_llm_call_log_model_timestamp'), table_name='llm_call_log')
    op.drop_index('ix_llm_call_log_failed', table_name='llm_call_log', postgresql_where=sa.text('NOT success'))
    op.drop_index(op.f('ix_llm_call_log_endpoint_timestamp'), table_name='llm_call_log')
    op.drop_index(op.f('ix_llm_call_log_company_id_timestamp'), table_name='llm_call_log')
    op.drop_index(op.f('ix_llm_call_log_assistant_id_timestamp'), table_name='llm_call_log')
    op.drop_table('llm_call_log')
    op.drop_table('model_price')
