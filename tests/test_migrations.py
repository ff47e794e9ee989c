"""Migrations: a single head, upgrade ↔ downgrade round trips, and no drift from the models."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

import app.ledger.rollup_tables  # noqa: F401 (registers the rollup tables)
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


def test_two_deploys_migrating_at_once_do_not_fight(scratch_url):
    """Both `alembic upgrade head` succeed: the second waits on the advisory lock, then finds the
    database at head and does nothing."""
    env = os.environ | {"DATABASE_URL": scratch_url}
    procs = [subprocess.Popen([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], results
    assert "(head)" in run_alembic(scratch_url, "current").stdout


def test_a_migration_waiting_for_a_lock_gives_up_instead_of_blocking_writers(scratch_url):
    """lock_timeout: a migration stuck behind a long transaction fails (and can be retried) rather
    than queueing every writer behind its own lock request."""
    run_alembic(scratch_url, "upgrade", "0008")
    engine = create_engine(scratch_url)
    try:
        with engine.connect() as holder:
            holder.execute(text("BEGIN"))
            holder.execute(text("LOCK TABLE llm_call_log IN ACCESS SHARE MODE"))  # a long-running reader
            env = os.environ | {"DATABASE_URL": scratch_url}
            proc = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "0009"], cwd=PROJECT_ROOT, env=env,
                                  capture_output=True, text=True, timeout=120)
            holder.execute(text("ROLLBACK"))
        assert proc.returncode != 0 and "lock timeout" in proc.stderr
        run_alembic(scratch_url, "upgrade", "head")  # once the reader is gone, it goes through
    finally:
        engine.dispose()


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
            for table in ("rollup_company_day", "rollup_company_month", "rollup_company_hour", "rollup_user_model_day"):
                assert conn.execute(text(f"SELECT sum(calls), sum(total_tokens) FROM {table}")).one() == (2, 40)
            next_id = conn.execute(text(
                "INSERT INTO llm_call_log (timestamp, company_id, provider, model, canonical_provider, canonical_model, "
                "input_tokens, output_tokens, total_tokens) VALUES (now(), 'c', 'openai', 'gpt-4o', 'openai', 'gpt-4o', "
                "1, 1, 2) RETURNING id")).scalar_one()
            assert next_id > 42  # ids continue where they were
            command.downgrade(config, "0002")
            assert conn.execute(text("SELECT count(*) FROM llm_call_log")).scalar_one() == 3
            assert conn.execute(text("SELECT call_id FROM llm_call_request")).scalar_one() == 41
    finally:
        engine.dispose()


def test_rollups_by_question_keep_the_history_of_dropped_months(scratch_url):
    """0007 fills the new rollups from the old full-grain one (which remembers months whose raw calls
    were dropped) and names calls by their canonical model; its downgrade rebuilds the old ones."""
    engine = create_engine(scratch_url)
    config = alembic_config()
    config.attributes["configure_logging"] = False
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0006")
            conn.execute(text(
                "INSERT INTO llm_call_log (timestamp, company_id, provider, model, user_id, assistant_id, "
                "assistant_name, input_tokens, output_tokens, total_tokens, success) VALUES "
                "('2025-01-10T10:00:00Z', 'c', 'openai', 'gpt-4o-2024-08-06', 'u1', 'a1', 'Bot', 10, 5, 15, true), "
                "('2026-03-05T10:00:00Z', 'c', 'OpenAI', 'gpt-4o', 'u1', 'a1', NULL, 20, 5, 25, false)"))
            conn.execute(text(
                "INSERT INTO llm_call_daily (day, company_id, provider, model, user_id, assistant_id, endpoint, "
                "success, assistant_name, calls, input_tokens, output_tokens, total_tokens) VALUES "
                "('2025-01-10', 'c', 'openai', 'gpt-4o-2024-08-06', 'u1', 'a1', NULL, true, 'Bot', 1, 10, 5, 15), "
                "('2026-03-05', 'c', 'OpenAI', 'gpt-4o', 'u1', 'a1', NULL, false, NULL, 1, 20, 5, 25)"))
            conn.execute(text(
                "INSERT INTO llm_call_hourly (hour, company_id, calls, total_tokens) VALUES "
                "('2025-01-10T10:00:00Z', 'c', 1, 15), ('2026-03-05T10:00:00Z', 'c', 1, 25)"))
            conn.execute(text("DELETE FROM llm_call_log WHERE timestamp < '2026-01-01'"))  # a dropped month
            command.upgrade(config, "0007")
            assert conn.execute(text("SELECT DISTINCT canonical_provider, canonical_model FROM llm_call_log")).all() \
                == [("openai", "gpt-4o")]
            assert conn.execute(text(
                "SELECT model, sum(calls), sum(total_tokens) FROM rollup_model_month GROUP BY model")).all() \
                == [("gpt-4o", 2, 40)]
            assert conn.execute(text(
                "SELECT month, assistant_name FROM rollup_assistant_month ORDER BY month")).all() \
                == [(date(2025, 1, 1), "Bot"), (date(2026, 3, 1), None)]
            assert conn.execute(text("SELECT sum(failed_calls) FROM rollup_user_model_day")).scalar_one() == 1
            assert conn.execute(text("SELECT sum(calls) FROM rollup_user_month")).scalar_one() == 2
            # hours: the dropped month's from the old hourly rollup, the kept one's from raw (with failures)
            assert conn.execute(text("SELECT hour, calls, failed_calls FROM rollup_company_hour ORDER BY hour")).all() \
                == [(datetime(2025, 1, 10, 10, tzinfo=UTC), 1, 0), (datetime(2026, 3, 5, 10, tzinfo=UTC), 1, 1)]
            command.downgrade(config, "0006")
            assert conn.execute(text("SELECT sum(calls) FROM llm_call_daily")).scalar_one() == 1  # raw only
            assert conn.execute(text("SELECT sum(calls) FROM llm_call_hourly")).scalar_one() == 2
    finally:
        engine.dispose()
