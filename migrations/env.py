"""Alembic environment: online migrations only, against DATABASE_URL (or a connection handed in).

Migrations take a transaction-level advisory lock so two deploys never migrate at once, and set
lock and statement timeouts so a migration waiting behind a long query fails instead of
blocking every writer behind it.
"""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, text

import app.ledger.rollup_tables  # noqa: F401  (registers the rollup tables on Base.metadata)
import app.models  # noqa: F401  (registers every other table on Base.metadata)
from app.config import Settings
from app.db import Base
from app.partitions import include_name

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
MIGRATION_LOCK_ID = 0x4C4C4D4C  # "LLML"


def run_migrations(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True,
                      include_name=include_name)
    with context.begin_transaction():
        connection.execute(text("SET LOCAL lock_timeout = '10s'"))
        connection.execute(text("SET LOCAL statement_timeout = '10min'"))
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            run_migrations(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; run against a database.")
run_migrations_online()
