"""budget spend and alerts: budget_spend per period, budget_alert (the alerts and their delivery
outbox), budget.tracked_from and match_key, llm_call_log.api_key_id (the key that sent a call)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(30, 18)
MATCH_KEY = ("CASE WHEN user_id IS NOT NULL THEN 'u:' || user_id WHEN assistant_id IS NOT NULL THEN 'a:' || assistant_id "
             "WHEN model IS NOT NULL THEN 'm:' || model WHEN endpoint IS NOT NULL THEN 'e:' || endpoint "
             "WHEN api_key_id IS NOT NULL THEN 'k:' || api_key_id ELSE '' END")


def upgrade() -> None:
    # Nullable, no default: instant on a partitioned log of any size (no rewrite).
    op.add_column("llm_call_log", sa.Column("api_key_id", sa.BigInteger(), nullable=True))
    op.add_column("budget", sa.Column("tracked_from", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE budget SET tracked_from = date_trunc(period, now(), timezone)")
    op.alter_column("budget", "tracked_from", nullable=False)
    # The budget's first narrowing field as one text (app.models.budgets.MATCH_KEY).
    op.add_column("budget", sa.Column("match_key", sa.Text(), sa.Computed(MATCH_KEY, persisted=True), nullable=False))
    op.create_index("ix_budget_company_id_match_key", "budget", ["company_id", "match_key"])
    op.create_table(
        "budget_spend",
        sa.Column("budget_id", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spent", MONEY, nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["budget_id"], ["budget.id"], name=op.f("fk_budget_spend_budget_id_budget"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("budget_id", "period_start", name=op.f("pk_budget_spend")),
    )
    # Budgets made before this revision: their current period, counted from the raw calls (none
    # carried a key yet, so a budget narrowed to a key starts at 0).
    op.execute("""
        INSERT INTO budget_spend (budget_id, period_start, spent, calls)
        SELECT b.id, date_trunc(b.period, c.timestamp, b.timezone), coalesce(sum(c.total_cost), 0), count(*)
        FROM budget b JOIN llm_call_log c ON b.company_id = c.company_id AND c.timestamp >= b.tracked_from
            AND (b.user_id IS NULL OR b.user_id = c.user_id) AND (b.assistant_id IS NULL OR b.assistant_id = c.assistant_id)
            AND (b.model IS NULL OR b.model = c.canonical_model) AND (b.endpoint IS NULL OR b.endpoint = c.endpoint)
            AND b.api_key_id IS NULL
        GROUP BY 1, 2""")
    op.create_table(
        "budget_alert",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("company_id", sa.Text(), nullable=False),
        sa.Column("budget_id", sa.BigInteger(), nullable=True),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("threshold", sa.BigInteger(), nullable=False),
        sa.Column("limit_usd", MONEY, nullable=False),
        sa.Column("spent", MONEY, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("delivery", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("delivery IN ('pending', 'delivered', 'no_webhook')",
                           name=op.f("ck_budget_alert_delivery_known")),
        sa.ForeignKeyConstraint(["budget_id"], ["budget.id"], name=op.f("fk_budget_alert_budget_id_budget"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_alert")),
        sa.UniqueConstraint("budget_id", "period_start", "threshold", name=op.f("uq_budget_alert_once")),
    )
    op.create_index("ix_budget_alert_company_id", "budget_alert", ["company_id", "id"])
    op.create_index("ix_budget_alert_due", "budget_alert", ["next_attempt_at"],
                    postgresql_where=sa.text("delivery = 'pending'"))


def downgrade() -> None:
    op.drop_index("ix_budget_alert_due", table_name="budget_alert")
    op.drop_index("ix_budget_alert_company_id", table_name="budget_alert")
    op.drop_table("budget_alert")
    op.drop_table("budget_spend")
    op.drop_index("ix_budget_company_id_match_key", table_name="budget")
    op.drop_column("budget", "match_key")
    op.drop_column("budget", "tracked_from")
    op.drop_column("llm_call_log", "api_key_id")
