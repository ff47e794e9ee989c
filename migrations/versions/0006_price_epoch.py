"""price epoch: a value that changes whenever model_price does

`price_epoch` holds one row; a statement-level trigger on `model_price` sets it to the next
value of `price_epoch_seq` after every INSERT, UPDATE, DELETE or TRUNCATE. Ingest caches price
histories per process and writes only if the epoch is still the one it priced at.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE price_epoch_seq")
    op.create_table(
        "price_epoch",
        sa.Column("singleton", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("singleton", name=op.f("ck_price_epoch_one_row")),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_price_epoch")),
    )
    op.execute("INSERT INTO price_epoch (epoch) VALUES (nextval('price_epoch_seq'))")
    op.execute("""
        CREATE FUNCTION bump_price_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE price_epoch SET epoch = nextval('price_epoch_seq');
            RETURN NULL;
        END
        $$
    """)
    op.execute("""
        CREATE TRIGGER model_price_bumps_epoch
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON model_price
        FOR EACH STATEMENT EXECUTE FUNCTION bump_price_epoch()
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER model_price_bumps_epoch ON model_price")
    op.execute("DROP FUNCTION bump_price_epoch()")
    op.drop_table("price_epoch")
    op.execute("DROP SEQUENCE price_epoch_seq")
