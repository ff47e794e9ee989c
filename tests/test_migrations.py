"""Migrations: a single head, upgrade ↔ downgrade round trips, and no drift from the models."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

import app.models  # noqa: F401
from app.db import Base
from app.dbstate import alembic_config, database_state, head_revisions
from app.embedded_pg import PROJECT_ROOT
from app.partitions import include_name
from tests import pg

TABLES = {"llm_call_log", "llm_call_request", "model_price"}


@pytest.fixture
def scratch_url(server_url):
    with pg.fresh_database(server_url) as url:
        yield url


def run_alembic(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": url}
    proc = subprocess.run([sys.executable, "-m", "alembic", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_single_head():
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"more than one Alembic head: {heads}"


def test_every_revision_upgrades_and_downgrades(scratch_url):
    """Step through every revision up, then all the way down, then up again (as `alembic` does)."""
    engine = create_engine(scratch_url)
    try:
        config = alembic_config()
        config.attributes["configure_logging"] = False
        revisions = list(reversed(list(ScriptDirectory.from_config(config).walk_revisions())))
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            for revision in revisions:
                command.upgrade(config, revision.revision)
            assert TABLES <= set(inspect(conn).get_table_names())
            for revision in reversed(revisions):
                command.downgrade(config, revision.down_revision or "base")
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
            command.upgrade(config, "head")
            assert TABLES <= set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_alembic_command_line_uses_database_url(scratch_url):
    run_alembic(scratch_url, "upgrade", "head")
    assert "(head)" in run_alembic(scratch_url, "current").stdout
    run_alembic(scratch_url, "check")  # models and migrations agree
    run_alembic(scratch_url, "downgrade", "base")
    assert "(head)" not in run_alembic(scratch_url, "current").stdout
    run_alembic(scratch_url, "upgrade", "head")


def test_models_and_migrations_do_not_drift(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": include_name})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_database_state_reports_head(engine, scratch_url):
    assert database_state(engine).up_to_date
    empty = create_engine(scratch_url)
    try:
        state = database_state(empty)
        assert state.reachable and not state.up_to_date and state.head == head_revisions()
    finally:
        empty.dispose()


def test_healthz_reports_a_database_behind_head(scratch_url, database_url):
    from app import create_app
    from app.config import Settings

    client = create_app(Settings(database_url=scratch_url)).test_client()
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.json["migration"]["upToDate"] is False and r.json["database"] == "reachable"


def test_healthz_reports_an_unreachable_database():
    from app import create_app
    from app.config import Settings

    from app.embedded_pg import free_port

    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere"
    r = create_app(Settings(database_url=url)).test_client().get("/healthz")
    assert r.status_code == 503 and r.json["database"].startswith("unreachable")


def test_healthz_ok(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json == {"status": "ok", "database": "reachable",
                      "migration": {"current": sorted(head_revisions()), "head": sorted(head_revisions()),
                                    "upToDate": True}}


def test_partitioning_and_rollup_migrations_keep_existing_calls(scratch_url):
    """Calls stored before 0003/0004 survive the upgrade (partitioned, rolled up) and the downgrade."""
    engine = create_engine(scratch_url)
    config = alembic_config()
    config.attributes["configure_logging"] = False
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0002")
            conn.execute(text(
                "INSERT INTO llm_call_log (id, timestamp, company_id, provider, model, input_tokens, output_tokens, "
                "total_tokens, success, request_id) VALUES "
                "(41, '2024-02-10T10:00:00Z', 'c', 'openai', 'gpt-4o', 10, 5, 15, true, 'k1'), "
                "(42, '2026-03-05T10:00:00Z', 'c', 'openai', 'gpt-4o', 20, 5, 25, false, NULL)"))
            conn.execute(text("INSERT INTO llm_call_request (company_id, request_id, call_id) VALUES ('c', 'k1', 41)"))
            command.upgrade(config, "head")
            partitions = dict(conn.execute(text(
                "SELECT id, tableoid::regclass::text FROM llm_call_log ORDER BY id")).all())
            assert partitions == {41: "llm_call_log_p202402", 42: "llm_call_log_p202603"}
            assert conn.execute(text("SELECT call_timestamp FROM llm_call_request")).scalar_one().year == 2024
            assert conn.execute(text("SELECT sum(calls), sum(total_tokens) FROM llm_call_daily")).one() == (2, 40)
            next_id = conn.execute(text(
                "INSERT INTO llm_call_log (timestamp, company_id, provider, model, input_tokens, output_tokens, "
                "total_tokens) VALUES (now(), 'c', 'openai', 'gpt-4o', 1, 1, 2) RETURNING id")).scalar_one()
            assert next_id > 42  # ids continue where they were
            command.downgrade(config, "0002")
            assert conn.execute(text("SELECT count(*) FROM llm_call_log")).scalar_one() == 3
            assert conn.execute(text("SELECT call_id FROM llm_call_request")).scalar_one() == 41
    finally:
        engine.dispose()
