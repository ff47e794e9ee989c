"""time-of-day prices in a named time zone: model_price.window_zone

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("model_price", sa.Column("window_zone", sa.Text(), nullable=True))
    op.create_check_constraint(op.f("ck_model_price_zone_has_window"), "model_price",
                               "window_zone IS NULL OR window_start IS NOT NULL")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_model_price_zone_has_window"), "model_price", type_="check")
    op.drop_column("model_price", "window_zone")
