"""promoted dimensions: metadata keys an operator groups and filters by like users or models

promoted_dimension lists the metadata keys promoted to dimensions (and whether their history is
still being backfilled); rollup_dimension_day and rollup_dimension_month sum the calls per
bucket, company, dimension and value (the call's metadata ->> key; NULL without it).
The indexes on each promoted key's value are made by `flask costs dimensions promote`, not here.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKENS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens",
          "input_audio_tokens", "cached_audio_tokens", "reasoning_tokens", "output_audio_tokens", "total_tokens")
COSTS = ("input_cost", "output_cost", "total_cost")
# The totals only, as the user rollups (a promoted key may have many values).
MEASURES = ("calls", "failed_calls", "unpriced_calls", "input_tokens", "output_tokens", "total_tokens", *COSTS,
            "duration_ms_sum", "timed_calls")


def upgrade() -> None:
    op.create_table(
        "promoted_dimension",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("ready", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("key ~ '^[a-z][a-z0-9_]{0,39}$'", name=op.f("ck_promoted_dimension_key_is_a_name")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_promoted_dimension")),
    )
    for grain in ("day", "month"):
        table = f"rollup_dimension_{grain}"
        op.create_table(
            table,
            sa.Column(grain, sa.Date(), nullable=False),
            sa.Column("company_id", sa.Text(), nullable=False),
            sa.Column("dimension", sa.Text(), nullable=False),
            sa.Column("value", sa.Text(), nullable=True),
            *[sa.Column(name, sa.Numeric(38, 18) if name in COSTS else sa.BigInteger(), server_default=sa.text("0"),
                        nullable=False) for name in MEASURES],
            sa.UniqueConstraint(grain, "company_id", "dimension", "value", name=f"uq_{table}_key",
                                postgresql_nulls_not_distinct=True),
        )
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 80)")


def downgrade() -> None:
    keys = op.get_bind().execute(sa.text("SELECT key FROM promoted_dimension")).scalars().all()
    for key in keys:  # the value indexes `dimensions promote` made
        op.execute(f"DROP INDEX IF EXISTS ix_llm_call_log_dim_{key}")
    op.drop_table("rollup_dimension_month")
    op.drop_table("rollup_dimension_day")
    op.drop_table("promoted_dimension")
