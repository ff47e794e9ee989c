"""budgets: a company's spending limit over a calendar period in a time zone

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "budget",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("company_id", sa.Text(), nullable=False),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("timezone", sa.Text(), server_default=sa.text("'UTC'"), nullable=False),
        sa.Column("limit_usd", sa.Numeric(30, 18), nullable=False),
        sa.Column("thresholds", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("assistant_id", sa.Text(), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("endpoint", sa.Text(), nullable=True),
        sa.Column("api_key_id", sa.BigInteger(), nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("period IN ('day', 'week', 'month')", name=op.f("ck_budget_period_known")),
        sa.CheckConstraint("limit_usd > 0", name=op.f("ck_budget_limit_positive")),
        sa.CheckConstraint("cardinality(thresholds) BETWEEN 1 AND 10", name=op.f("ck_budget_thresholds_count")),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"], name=op.f("fk_budget_api_key_id_api_key"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget")),
    )
    op.create_index("ix_budget_company_id", "budget", ["company_id"])


def downgrade() -> None:
    op.drop_index("ix_budget_company_id", table_name="budget")
    op.drop_table("budget")
