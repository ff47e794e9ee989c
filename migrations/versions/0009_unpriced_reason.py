"""why a call is unpriced: llm_call_log.unpriced_reason

A call stored without a price says why: no price for its model, tier and date, a price without
a rate for the tokens it used, or a stored price the cost engine refused. NULL for priced calls
(and for unpriced calls stored before this revision, until `flask costs reprice` fills it in).
Adding a nullable column without a default changes no row: instant on a table of any size.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("llm_call_log", sa.Column("unpriced_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("llm_call_log", "unpriced_reason")
