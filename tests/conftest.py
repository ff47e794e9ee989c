"""Fixtures: one real PostgreSQL per run, migrated with `alembic upgrade head`; one rolled-back
transaction per test, shared by the app, the CLI and the test's own session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from app import create_app
from app.auth.keys import create_key
from app.config import Settings
from app.db import Database
from app.dbstate import alembic_config
from app.pricing import sync_catalog
from tests import pg


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    with pg.server_url() as (url, origin):
        print(f"\n[tests] PostgreSQL from {origin}")
        yield url


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    with pg.fresh_database(server_url) as url:
        yield url


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config()
    config.attributes["configure_logging"] = False
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    upgrade(engine)
    with Session(engine) as session:  # the catalog is reference data every test may price against
        sync_catalog(session)
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    # Commits inside the app release a SAVEPOINT; the outer transaction is rolled back at the end.
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def app(engine: Engine, session_factory: sessionmaker[Session], database_url: str):
    app = create_app(Settings(database_url=database_url), Database(engine, session_factory))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def make_client(app, session):
    """A test client sending a new API key (`company` None: a platform key spanning every company)."""
    def make(company: str | None = None, scopes: str = "ingest,read,admin"):
        made = create_key(session, name=f"tests {company or 'platform'} {scopes}", company_id=company, scopes=scopes)
        session.commit()
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {made.secret}"
        return client
    return make


@pytest.fixture
def client(make_client):
    """The app, called with a platform key holding every scope."""
    return make_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
