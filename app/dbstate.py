"""Whether the database is reachable and at the latest migration (for `/healthz` and start-up)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def alembic_config() -> Config:
    return Config(str(ALEMBIC_INI))


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


@dataclass(frozen=True)
class DatabaseState:
    reachable: bool
    current: set[str]
    head: set[str]
    error: str | None = None

    @property
    def up_to_date(self) -> bool:
        return self.reachable and self.current == self.head


def database_state(engine: Engine) -> DatabaseState:
    head = head_revisions()
    try:
        with engine.connect() as conn:
            conn.execute(text("SET LOCAL statement_timeout = '2s'"))
            current = set(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as exc:
        return DatabaseState(reachable=False, current=set(), head=head, error=type(exc).__name__)
    return DatabaseState(reachable=True, current=current, head=head)
