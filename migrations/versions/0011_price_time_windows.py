"""time-of-day prices: model_price.window_start / window_end

A price may apply only in a daily window (UTC, [start, end), wrapping past midnight when end <
start): within its key (provider, model, tier, kind, company, valid_from) it replaces the row
without a window while the call's time of day is inside. The window joins the unique key.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = ["provider", "model", "service_tier", "kind", "company_id", "valid_from"]


def upgrade() -> None:
    op.add_column("model_price", sa.Column("window_start", sa.Time(), nullable=True))
    op.add_column("model_price", sa.Column("window_end", sa.Time(), nullable=True))
    op.create_check_constraint(
        op.f("ck_model_price_window_whole"), "model_price",
        "(window_start IS NULL AND window_end IS NULL) OR (window_start IS NOT NULL AND window_end IS NOT NULL "
        "AND window_start <> window_end)")
    op.drop_constraint(op.f("uq_model_price_key"), "model_price", type_="unique")
    op.create_unique_constraint(op.f("uq_model_price_key"), "model_price", [*KEY, "window_start", "window_end"],
                                postgresql_nulls_not_distinct=True)


def downgrade() -> None:
    op.execute("DELETE FROM model_price WHERE window_start IS NOT NULL")  # (calls priced by them keep their costs)
    op.drop_constraint(op.f("uq_model_price_key"), "model_price", type_="unique")
    op.create_unique_constraint(op.f("uq_model_price_key"), "model_price", KEY, postgresql_nulls_not_distinct=True)
    op.drop_constraint(op.f("ck_model_price_window_whole"), "model_price", type_="check")
    op.drop_column("model_price", "window_end")
    op.drop_column("model_price", "window_start")
