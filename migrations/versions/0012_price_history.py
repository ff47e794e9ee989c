"""price history: price_change, written by a trigger on every model_price write, append-only

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 08:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "price_change",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("price_id", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("company_id", sa.Text(), nullable=True),
        sa.Column("old", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("new", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint("action IN ('insert', 'update', 'delete')", name=op.f("ck_price_change_action_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_change")),
    )
    op.create_index("ix_price_change_model", "price_change", ["provider", "model", "id"])
    op.execute("""
        CREATE FUNCTION record_price_change() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            who text := coalesce(nullif(current_setting('ledger.actor', true), ''), session_user || ' (SQL)');
            row_ model_price := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        BEGIN
            INSERT INTO price_change (actor, action, price_id, provider, model, company_id, old, new)
            VALUES (who, lower(TG_OP), row_.id, row_.provider, row_.model, row_.company_id,
                    CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END,
                    CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END);
            RETURN NULL;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER model_price_recorded AFTER INSERT OR UPDATE OR DELETE ON model_price
        FOR EACH ROW EXECUTE FUNCTION record_price_change()
    """)
    op.execute("""
        CREATE FUNCTION price_change_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'price_change is append-only';
        END $$
    """)
    op.execute("""
        CREATE TRIGGER price_change_append_only BEFORE UPDATE OR DELETE ON price_change
        FOR EACH ROW EXECUTE FUNCTION price_change_is_append_only()
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER price_change_append_only ON price_change")
    op.execute("DROP FUNCTION price_change_is_append_only()")
    op.execute("DROP TRIGGER model_price_recorded ON model_price")
    op.execute("DROP FUNCTION record_price_change()")
    op.drop_index("ix_price_change_model", table_name="price_change")
    op.drop_table("price_change")
