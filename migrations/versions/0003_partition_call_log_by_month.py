"""partition llm_call_log by month

The call log becomes a range-partitioned table on `timestamp` (primary key (id, timestamp,
company_id): every unique key must hold the partition key, and on Citus the distribution column),
with a DEFAULT partition so that no call is ever refused, and monthly partitions for every
month that has calls plus the next three. Idempotency keys stop referencing the log by foreign
key (a key must survive the months being dropped independently) and remember the call's
timestamp, which names its partition. Existing rows are copied; ids continue where they were.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [  # name, columns, partial predicate
    ("ix_llm_call_log_timestamp", ["timestamp"], None),
    ("ix_llm_call_log_company_id_timestamp", ["company_id", "timestamp"], None),
    ("ix_llm_call_log_user_id_timestamp", ["user_id", "timestamp"], None),
    ("ix_llm_call_log_assistant_id_timestamp", ["assistant_id", "timestamp"], None),
    ("ix_llm_call_log_model_timestamp", ["model", "timestamp"], None),
    ("ix_llm_call_log_provider_timestamp", ["provider", "timestamp"], None),
    ("ix_llm_call_log_endpoint_timestamp", ["endpoint", "timestamp"], None),
    ("ix_llm_call_log_total_cost", ["total_cost"], None),
    ("ix_llm_call_log_failed", ["timestamp"], "NOT success"),
    ("ix_llm_call_log_unpriced", ["timestamp"], "price_id IS NULL"),
]

# Monthly partitions for every month with calls, and from this month to three months ahead.
CREATE_MONTHLY_PARTITIONS = """
DO $$
DECLARE
    month date;
BEGIN
    FOR month IN
        SELECT m::date FROM generate_series(
            least(coalesce((SELECT date_trunc('month', min(timestamp) AT TIME ZONE 'UTC')
                            FROM llm_call_log_unpartitioned), now() AT TIME ZONE 'UTC'),
                  date_trunc('month', now() AT TIME ZONE 'UTC')),
            greatest(coalesce((SELECT date_trunc('month', max(timestamp) AT TIME ZONE 'UTC')
                               FROM llm_call_log_unpartitioned), now() AT TIME ZONE 'UTC'),
                     date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months'),
            interval '1 month') AS m
    LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF llm_call_log FOR VALUES FROM (%L) TO (%L)',
            'llm_call_log_p' || to_char(month, 'YYYYMM'),
            (month::timestamp AT TIME ZONE 'UTC'),
            ((month + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
    END LOOP;
END $$;
"""


def _indexes() -> None:
    for name, columns, where in INDEXES:
        op.create_index(name, "llm_call_log", columns, postgresql_where=sa.text(where) if where else None)


def _price_fk() -> None:
    op.create_foreign_key("fk_llm_call_log_price_id_model_price", "llm_call_log", "model_price",
                          ["price_id"], ["id"], ondelete="RESTRICT")


def _restart_ids() -> None:
    op.execute("SELECT setval(pg_get_serial_sequence('llm_call_log', 'id'), "
                "coalesce((SELECT max(id) FROM llm_call_log), 0) + 1, false)")


def upgrade() -> None:
    op.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check deferred keys written earlier in this transaction
    op.drop_constraint("fk_llm_call_request_call_id_llm_call_log", "llm_call_request", type_="foreignkey")
    op.drop_index("ix_llm_call_request_call_id", table_name="llm_call_request")
    op.add_column("llm_call_request", sa.Column("call_timestamp", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE llm_call_request r SET call_timestamp = c.timestamp FROM llm_call_log c WHERE c.id = r.call_id")
    op.execute("DELETE FROM llm_call_request WHERE call_timestamp IS NULL")  # keys of calls that no longer exist
    op.alter_column("llm_call_request", "call_timestamp", nullable=False)
    op.create_index("ix_llm_call_request_call_timestamp", "llm_call_request", ["call_timestamp"])

    op.rename_table("llm_call_log", "llm_call_log_unpartitioned")
    op.execute("ALTER INDEX pk_llm_call_log RENAME TO pk_llm_call_log_unpartitioned")
    op.execute("CREATE TABLE llm_call_log (LIKE llm_call_log_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
               "INCLUDING IDENTITY) PARTITION BY RANGE (timestamp)")
    # The partition key and the company (the distribution column on Citus) are part of the key.
    op.create_primary_key("pk_llm_call_log", "llm_call_log", ["id", "timestamp", "company_id"])
    op.execute("CREATE TABLE llm_call_log_default PARTITION OF llm_call_log DEFAULT")
    op.execute(CREATE_MONTHLY_PARTITIONS)
    op.execute("INSERT INTO llm_call_log SELECT * FROM llm_call_log_unpartitioned")
    op.drop_table("llm_call_log_unpartitioned")
    _restart_ids()
    _price_fk()
    _indexes()


def downgrade() -> None:
    op.execute("CREATE TABLE llm_call_log_unpartitioned (LIKE llm_call_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
               "INCLUDING IDENTITY)")
    op.execute("INSERT INTO llm_call_log_unpartitioned SELECT * FROM llm_call_log")
    op.drop_table("llm_call_log")  # drops every partition with it
    op.rename_table("llm_call_log_unpartitioned", "llm_call_log")
    op.create_primary_key("pk_llm_call_log", "llm_call_log", ["id"])
    _restart_ids()
    _price_fk()
    _indexes()

    op.drop_index("ix_llm_call_request_call_timestamp", table_name="llm_call_request")
    op.drop_column("llm_call_request", "call_timestamp")
    op.create_index("ix_llm_call_request_call_id", "llm_call_request", ["call_id"])
    op.create_foreign_key("fk_llm_call_request_call_id_llm_call_log", "llm_call_request", "llm_call_log",
                          ["call_id"], ["id"], ondelete="CASCADE", deferrable=True, initially="DEFERRED")
