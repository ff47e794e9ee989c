"""BI access (issue 14): the views of schema `bi` and `flask costs bi-role`, tested by connecting as
the roles the command makes — what each reads (its company's rows only, or every company's), that
it can write nothing and read nothing else, and that the daily costs are the sums of the calls.

These tests run in a database of their own, owned by a role that is neither superuser nor
BYPASSRLS but may make roles (CREATEROLE), as a production ledger's role would be: the migrations,
the calls written and the command all run as that owner, which shows too that the owner is
untouched by row-level security. (In the suite's shared database the roles' policies and grants,
and the append-only history of the price overrides, would outlive the test.) Roles are the
cluster's: every role made here is dropped at the end.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from alembic import command
from flask import Flask
from psycopg import sql
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from app import create_app
from app.bi import VIEWS
from app.config import Settings
from app.dbstate import alembic_config
from app.ledger import Ledger
from app.ledger.rollup_tables import MEASURES
from app.models import ModelPrice
from app.partitions import ensure_partitions, list_partitions
from app.pricing import list_prices
from app.records import NewCall
from app.token_types import PRICE_NAMES, TOKEN_SUMS
from tests.conftest import upgrade

A, B = "bi-test-a", "bi-test-b"
READABLE = {"llm_call_log", "rollup_model_day", "model_price", "bi_role"}  # what the views (and roles) need


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class BiDatabase:
    url: str  # the owner's SQLAlchemy URL
    engine: Engine
    suffix: str  # of every role name made here
    app: Flask  # over this database, as its owner

    def role_name(self, label: str) -> str:
        return f"bi_{self.suffix}_{label}"

    def cli(self, *args: str):
        """`flask costs …`; each command commits for real."""
        return self.app.test_cli_runner().invoke(args=["costs", *args])

    def make(self, label: str, *options: str) -> tuple[str, str]:
        """A BI role made with `flask costs bi-role`, and the password it printed."""
        name = self.role_name(label)
        result = self.cli("bi-role", name, *options)
        assert result.exit_code == 0, result.output
        assert "made" in result.output, result.output
        return name, result.output.strip().splitlines()[-1]

    @contextmanager
    def connect(self, role: str, password: str | None = None) -> Iterator[psycopg.Connection]:
        """A connection as `role` (with its password: checked where the server asks for it)."""
        url = make_url(self.url)
        with psycopg.connect(host=url.host, port=url.port, dbname=url.database, user=role, password=password,
                             autocommit=True) as conn:
            yield conn

    def owner_rows(self, query: str, **params) -> list[tuple]:
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(query), params)]


@contextmanager
def owned_database(server_url: str) -> Iterator[BiDatabase]:
    """A migrated database owned by a new CREATEROLE (not superuser) role; dropped afterwards with
    every role whose name carries its suffix."""
    suffix = secrets.token_hex(3)
    owner, password, name = f"ledger_owner_{suffix}", secrets.token_urlsafe(12), f"ledger_bi_{suffix}"
    with psycopg.connect(_libpq(server_url), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
            sql.Identifier(owner), sql.Literal(password)))
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner)))
    url = make_url(server_url).set(username=owner, password=password, database=name).render_as_string(
        hide_password=False)
    engine = create_engine(url)
    app = create_app(Settings(database_url=url))
    try:
        upgrade(engine)
        yield BiDatabase(url, engine, suffix, app)
    finally:
        app.extensions["ledger_db"].engine.dispose()
        engine.dispose()
        with psycopg.connect(_libpq(server_url), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            roles = admin.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s",
                                  (f"bi\\_{suffix}\\_%",)).fetchall()
            for (role,) in [*roles, (owner,)]:
                admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    config.attributes["configure_logging"] = False
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def _seed(engine: Engine) -> None:
    """Prices (global, each company's override, one superseded, one not yet begun) and calls of
    both companies over three UTC days, some failed, some unpriced, written by the ledger."""
    def price(valid_from: str, input_: str, output: str, company: str | None = None) -> ModelPrice:
        return ModelPrice(provider="openai", model="gpt-4o", kind="override", company_id=company,
                          valid_from=datetime.fromisoformat(valid_from), input_per_mtok=Decimal(input_),
                          output_per_mtok=Decimal(output), source="tests")

    future = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    with Session(engine) as session:
        session.add_all([price("2019-01-01T00:00:00+00:00", "5", "15"), price("2020-01-01T00:00:00+00:00", "2.5", "10"),
                         price("2020-01-01T00:00:00+00:00", "1", "4", A), price(future, "0.5", "2", A),
                         price("2020-01-01T00:00:00+00:00", "3", "12", B)])
        session.flush()
        ensure_partitions(session, today=datetime(2026, 3, 1).date(), months_ahead=1)
        calls = []
        for n in range(12):
            company = A if n % 3 else B
            calls.append(NewCall(
                provider="openai", model="mystery-model" if n in (4, 9) else "gpt-4o-2024-08-06", company_id=company,
                input_tokens=1000 + 37 * n, output_tokens=100 + n, cached_input_tokens=200 if n % 2 else 0,
                reasoning_tokens=n, duration_ms=None if n == 5 else 300 + n, success=n not in (2, 7),
                error="timeout" if n in (2, 7) else None, user_id=f"u{n % 2}", endpoint="/chat",
                timestamp=datetime(2026, 3, 4, 23, 30, tzinfo=UTC) + timedelta(hours=7 * n),
                request_id=f"r{n}", metadata={"n": n}))
        Ledger(session).record(calls)
        session.execute(text("ANALYZE llm_call_log, rollup_model_day, model_price"))
        session.commit()


@pytest.fixture(scope="module")
def bi(server_url) -> Iterator[BiDatabase]:
    with owned_database(server_url) as database:
        _seed(database.engine)
        yield database


@pytest.fixture(scope="module")
def company_role(bi) -> tuple[str, str]:
    return bi.make("a", "--company", A)


@pytest.fixture(scope="module")
def platform_role(bi) -> tuple[str, str]:
    return bi.make("all")


def _rows(conn: psycopg.Connection, query: str) -> list[tuple]:
    return [tuple(row) for row in conn.execute(query).fetchall()]


def test_the_owner_is_untouched_by_row_level_security(bi):
    """The ledger wrote as the owner; it reads every company's calls, rollups and prices."""
    assert bi.owner_rows("SELECT company_id, count(*) FROM llm_call_log GROUP BY 1 ORDER BY 1") == [(A, 8), (B, 4)]
    assert bi.owner_rows("SELECT count(DISTINCT company_id) FROM rollup_model_day") == [(2,)]
    assert bi.owner_rows("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'llm_call_log'") \
        == [(True, False)]


def test_views_are_invoker_views_with_every_column_documented(bi):
    columns = {view: [name for (name,) in bi.owner_rows(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'bi' AND table_name = :view "
        "ORDER BY ordinal_position", view=view)] for view in VIEWS}
    assert set(TOKEN_SUMS) <= set(columns["calls"])
    assert {"input_cost", "output_cost", "total_cost", "priced", "unpriced_reason", "metadata"} <= set(columns["calls"])
    assert set(MEASURES) <= set(columns["daily_costs"])
    assert set(PRICE_NAMES) | {"precedence", "tiers"} <= set(columns["prices_in_force"])
    assert "api_key_id" not in columns["calls"]
    undocumented = bi.owner_rows(
        "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "WHERE c.relnamespace = 'bi'::regnamespace AND a.attnum > 0 AND col_description(c.oid, a.attnum) IS NULL")
    assert undocumented == []
    assert bi.owner_rows("SELECT relname, reloptions FROM pg_class WHERE relnamespace = 'bi'::regnamespace "
                         "AND obj_description(oid, 'pg_class') IS NOT NULL ORDER BY 1") == [
        (view, ["security_invoker=true"]) for view in sorted(VIEWS)]


def test_a_company_role_reads_its_company_only(bi, company_role):
    name, password = company_role
    with bi.connect(name, password) as conn:
        # Exactly what the owner sees of that company, through each view…
        assert _rows(conn, "SELECT * FROM bi.calls ORDER BY id") == bi.owner_rows(
            "SELECT * FROM bi.calls WHERE company_id = :c ORDER BY id", c=A)
        assert _rows(conn, "SELECT * FROM bi.daily_costs ORDER BY day, provider, model") == bi.owner_rows(
            "SELECT * FROM bi.daily_costs WHERE company_id = :c ORDER BY day, provider, model", c=A)
        assert _rows(conn, "SELECT * FROM bi.prices_in_force ORDER BY price_id") == bi.owner_rows(
            "SELECT * FROM bi.prices_in_force WHERE company_id IS NULL OR company_id = :c ORDER BY price_id", c=A)
        # …and through the tables behind them.
        assert _rows(conn, "SELECT company_id, count(*) FROM llm_call_log GROUP BY 1") == [(A, 8)]
        assert _rows(conn, "SELECT DISTINCT company_id FROM rollup_model_day") == [(A,)]
        assert _rows(conn, "SELECT DISTINCT company_id FROM model_price WHERE company_id IS NOT NULL") == [(A,)]
        assert _rows(conn, "SELECT name, company_id FROM bi_role") == [(name, A)]  # its own row, no other
        assert _rows(conn, "SELECT count(*) FROM bi.calls WHERE company_id = 'bi-test-b'") == [(0,)]
        # Prices: the global rows and its own override in force, B's never.
        assert _rows(conn, "SELECT company_id, precedence, input_per_mtok FROM bi.prices_in_force "
                           "WHERE provider = 'openai' AND model = 'gpt-4o' AND kind = 'override' ORDER BY 2") == [
            (A, 1, Decimal("1")), (None, 2, Decimal("2.5"))]


def test_a_platform_role_reads_every_company(bi, platform_role):
    name, password = platform_role
    with bi.connect(name, password) as conn:
        for view, order in (("calls", "id"), ("daily_costs", "day, company_id, provider, model"),
                            ("prices_in_force", "price_id")):
            assert _rows(conn, f"SELECT * FROM bi.{view} ORDER BY {order}") == bi.owner_rows(
                f"SELECT * FROM bi.{view} ORDER BY {order}")
        assert _rows(conn, "SELECT company_id, count(*) FROM bi.calls GROUP BY 1 ORDER BY 1") == [(A, 8), (B, 4)]
        assert _rows(conn, "SELECT name, company_id FROM bi_role") == [(name, None)]


def test_daily_costs_are_the_sums_of_the_raw_calls(bi, company_role):
    """Per UTC day and canonical model, every measure of bi.daily_costs equals SQL over the raw
    calls; and its totals equal bi.calls'."""
    tokens = ", ".join(f"sum({name})" for name in TOKEN_SUMS)
    raw = bi.owner_rows(
        f"SELECT (timestamp AT TIME ZONE 'UTC')::date, canonical_provider, canonical_model, count(*), "
        f"count(*) FILTER (WHERE NOT success), count(*) FILTER (WHERE price_id IS NULL), {tokens}, "
        "coalesce(sum(input_cost), 0), coalesce(sum(output_cost), 0), coalesce(sum(total_cost), 0), "
        "coalesce(sum(duration_ms), 0), count(duration_ms) "
        "FROM llm_call_log WHERE company_id = :c GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", c=A)
    name, password = company_role
    with bi.connect(name, password) as conn:
        daily = _rows(conn, f"SELECT day, provider, model, calls, failed_calls, unpriced_calls, "
                            f"{', '.join(TOKEN_SUMS)}, input_cost, output_cost, total_cost, duration_ms_sum, "
                            "timed_calls FROM bi.daily_costs ORDER BY 1, 2, 3")
        totals = _rows(conn, "SELECT sum(calls), sum(total_cost), sum(unpriced_calls) FROM bi.daily_costs")
        from_calls = _rows(conn, "SELECT count(*), sum(total_cost), count(*) FILTER (WHERE NOT priced) FROM bi.calls")
    assert daily == raw
    assert {row[0].day for row in daily} == {5, 6, 7, 8} and {row[2] for row in daily} == {"gpt-4o", "mystery-model"}
    assert totals == from_calls and totals[0][1] > 0 and totals[0][2] == 1


def test_prices_in_force_are_the_latest_begun_per_price_identity(bi):
    """The view's rows are, per (provider, model, tier, kind, company), those of the latest start
    that has begun: the ones `flask costs prices list --at now` shows (superseded and future
    prices are left out)."""
    shown = {(row[1], row[2], row[3], row[4], row[5], row[6]) for row in bi.owner_rows(
        "SELECT price_id, provider, model, service_tier, kind, company_id, valid_from FROM bi.prices_in_force")}
    with Session(bi.engine) as session:
        for company in (None, A, B):
            in_force = {(p.provider, p.model, p.service_tier, p.kind, p.company_id, p.valid_from)
                        for p in list_prices(session, at=datetime.now(UTC), company_id=company)}
            assert in_force <= shown
    overrides = sorted((row[4] or "", row[5].year) for row in shown if row[3] == "override")
    assert overrides == [("", 2020), (A, 2020), (B, 2020)]


def test_bi_roles_can_write_nothing(bi, company_role, platform_role):
    before = bi.owner_rows("SELECT count(*), sum(total_cost) FROM llm_call_log")
    writes = [
        "INSERT INTO bi.calls (id, company_id) VALUES (1, 'x')", "UPDATE bi.calls SET total_cost = 0",
        "DELETE FROM bi.daily_costs",
        "UPDATE llm_call_log SET total_cost = 0", "DELETE FROM llm_call_log", "TRUNCATE llm_call_log",
        "DELETE FROM rollup_model_day", "INSERT INTO model_price (provider, model, valid_from, source) "
        "VALUES ('openai', 'gpt-4o', now(), 'x')", "UPDATE model_price SET input_per_mtok = 0",
        "UPDATE bi_role SET company_id = NULL", "INSERT INTO bi_role (name) VALUES ('someone')",
        "CREATE TABLE bi.mine (a int)", "CREATE VIEW bi.mine AS SELECT 1", "CREATE TABLE public.mine (a int)",
        "CREATE SCHEMA mine", "ALTER TABLE llm_call_log DISABLE ROW LEVEL SECURITY",
        "DROP POLICY own_row ON bi_role", "DROP VIEW bi.calls",
    ]
    for name, password in (company_role, platform_role):
        with bi.connect(name, password) as conn:
            assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):  # even what PUBLIC may do
                conn.execute("CREATE TEMPORARY TABLE scratch (a int)")
            conn.execute("SET default_transaction_read_only = off")  # the role may; its privileges still hold
            for statement in writes:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
            with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):  # not updatable, whoever asks
                conn.execute("UPDATE bi.prices_in_force SET input_per_mtok = 0")
            for statement in (f"ALTER ROLE {name} BYPASSRLS", f"ALTER ROLE {name} SUPERUSER"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(make_url(bi.url).username)))
    assert bi.owner_rows("SELECT count(*), sum(total_cost) FROM llm_call_log") == before
    assert bi.owner_rows("SELECT name, company_id FROM bi_role ORDER BY 1") == sorted(
        [(company_role[0], A), (platform_role[0], None)])


def test_bi_roles_read_nothing_but_the_views_and_their_columns(bi, company_role, platform_role):
    tables = [name for (name,) in bi.owner_rows(
        "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p')")]
    with Session(bi.engine) as session:
        partitions = [p.name for p in list_partitions(session)]
    assert {"api_key", "llm_call_log_default", "budget", "rollup_company_day"} <= set(tables) and partitions
    for name, password in (company_role, platform_role):
        with bi.connect(name, password) as conn:
            for table in [t for t in tables if t not in READABLE]:  # api_key, every partition, budgets…
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(table)))
            for query in ("SELECT * FROM llm_call_log", "SELECT api_key_id FROM llm_call_log",
                          "SELECT secret_hash FROM api_key"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(query)
            # The planner's statistics of the protected tables (which list frequent companies) are hidden…
            stats = _rows(conn, "SELECT count(*) FROM pg_stats WHERE tablename IN "
                                "('llm_call_log', 'rollup_model_day', 'model_price')")
            assert stats == [(0,)]
            # …and so is a role's company: its policies read it from its own bi_role row.
            policies = " ".join(q for (q,) in _rows(conn, "SELECT qual FROM pg_policies"))
            assert A not in policies and B not in policies
    assert bi.owner_rows("SELECT count(*) > 0 FROM pg_stats WHERE tablename = 'llm_call_log' "
                         "AND attname = 'company_id'") == [(True,)]


def test_a_role_not_made_by_the_command_reads_no_row(bi):
    """Granted SELECT by hand, a role still reads nothing: no policy shows it any row."""
    name, password = bi.role_name("by_hand"), secrets.token_urlsafe(12)
    with bi.engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA bi TO {name}"))
        conn.execute(text(f"GRANT SELECT ON llm_call_log, rollup_model_day, model_price, bi.calls TO {name}"))
    with bi.connect(name, password) as conn:
        assert _rows(conn, "SELECT count(*) FROM llm_call_log") == [(0,)]
        assert _rows(conn, "SELECT count(*) FROM bi.calls") == [(0,)]
        assert _rows(conn, "SELECT count(*) FROM model_price") == [(0,)]
    result = bi.cli("bi-role", name)  # and the command leaves a role it did not make alone
    assert result.exit_code != 0 and "was not made by" in result.output


def scram_matches(verifier: str, password: str) -> bool:
    """Whether a SCRAM-SHA-256 verifier as PostgreSQL stores it (RFC 5803) was made from `password`."""
    method, iterations_salt, keys = verifier.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key, server_key = (base64.b64decode(key) for key in keys.split(":"))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return (method == "SCRAM-SHA-256" and hashlib.sha256(client_key).digest() == stored_key
            and hmac.new(salted, b"Server Key", "sha256").digest() == server_key)


def _stored_password(server_url: str, role: str) -> str:
    with psycopg.connect(_libpq(server_url)) as admin:  # pg_authid: superusers only
        return admin.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()[0]


def test_the_role_is_a_read_only_login_whose_password_is_stored_hashed(bi, company_role, server_url):
    name, password = company_role
    attributes = bi.owner_rows(
        "SELECT rolcanlogin, rolinherit, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, "
        "rolconnlimit FROM pg_roles WHERE rolname = :n", n=name)
    assert attributes == [(True, False, False, False, False, False, False, 5)]
    settings = bi.owner_rows("SELECT setconfig FROM pg_db_role_setting WHERE setrole = to_regrole(:n)", n=name)
    assert settings == [(["default_transaction_read_only=on", "statement_timeout=300s"],)]
    assert scram_matches(_stored_password(server_url, name), password) and len(password) >= 24


def test_running_the_command_again_refreshes_the_role_and_refuses_what_would_widen_it(bi, server_url):
    name, first_password = bi.make("again", "--company", A, "--connection-limit", "2")
    policies = "SELECT count(*) FROM pg_policy WHERE to_regrole(:n) = ANY (polroles)"
    assert bi.owner_rows(policies, n=name) == [(3,)]

    again = bi.cli("bi-role", name, "--company", A)
    assert again.exit_code == 0 and "refreshed" in again.output and "password" not in again.output
    assert bi.owner_rows(policies, n=name) == [(3,)]
    assert scram_matches(_stored_password(server_url, name), first_password)
    assert bi.owner_rows("SELECT rolconnlimit FROM pg_roles WHERE rolname = :n", n=name) == [(5,)]

    renewed = bi.cli("bi-role", name, "--company", A, "--new-password")
    new_password = renewed.output.strip().splitlines()[-1]
    assert renewed.exit_code == 0 and new_password != first_password
    assert scram_matches(_stored_password(server_url, name), new_password)
    chosen = bi.cli("bi-role", name, "--company", A, "--password", "it's: a $ecret")
    assert chosen.exit_code == 0 and "it's" not in chosen.output and "password was set" in chosen.output
    assert scram_matches(_stored_password(server_url, name), "it's: a $ecret")

    for options, error in ((["--company", B], "reads company bi-test-a"), ([], "reads company bi-test-a")):
        refused = bi.cli("bi-role", name, *options)
        assert refused.exit_code != 0 and error in refused.output and "--drop" in refused.output
    assert bi.owner_rows("SELECT company_id FROM bi_role WHERE name = :n", n=name) == [(A,)]

    owner = make_url(bi.url).username
    for bad in ("Bad", "pg_mine", "x; DROP TABLE llm_call_log", "a" * 64, owner):
        refused = bi.cli("bi-role", bad)
        assert refused.exit_code != 0 and ("not a plain role name" in refused.output
                                           or "was not made by" in refused.output), refused.output
    assert bi.cli("bi-role", bi.role_name("nobody"), "--drop").exit_code != 0
    assert bi.cli("bi-role").exit_code != 0

    with bi.engine.begin() as conn:  # a view reading with its owner's privileges would show every row
        conn.execute(text("CREATE VIEW bi.leaky AS SELECT company_id FROM llm_call_log"))
    refused = bi.cli("bi-role", name, "--company", A)
    assert refused.exit_code != 0 and "leaky" in refused.output and "security_invoker" in refused.output
    with bi.engine.begin() as conn:
        conn.execute(text("DROP VIEW bi.leaky"))
        conn.execute(text("CREATE TABLE unprotected (company_id text)"))
        conn.execute(text("CREATE VIEW bi.unprotected WITH (security_invoker = true) AS SELECT * FROM unprotected"))
    refused = bi.cli("bi-role", name, "--company", A)
    assert refused.exit_code != 0 and "public.unprotected, which has no row-level security" in refused.output
    with bi.engine.begin() as conn:
        conn.execute(text("DROP VIEW bi.unprotected"))
        conn.execute(text("DROP TABLE unprotected"))
    assert bi.owner_rows("SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = :n "
                         "AND table_name IN ('leaky', 'unprotected')", n=name) == [(0,)]

    listed = bi.cli("bi-role", "--list")
    assert listed.exit_code == 0 and name in listed.output and A in listed.output

    dropped = bi.cli("bi-role", name, "--drop")
    assert dropped.exit_code == 0 and "dropped" in dropped.output
    assert bi.owner_rows("SELECT count(*) FROM pg_roles WHERE rolname = :n", n=name) == [(0,)]
    assert bi.owner_rows("SELECT count(*) FROM pg_policy WHERE polname = :n", n=name) == [(0,)]
    assert bi.owner_rows("SELECT count(*) FROM bi_role WHERE name = :n", n=name) == [(0,)]


def test_a_role_dropped_outside_the_ledger_is_listed_so_and_can_be_made_again(bi, server_url):
    name, _ = bi.make("gone", "--company", A)
    database = make_url(bi.url).database
    with psycopg.connect(_libpq(make_url(server_url).set(database=database).render_as_string(hide_password=False)),
                         autocommit=True) as admin:  # as a database administrator would
        admin.execute(sql.SQL("DROP OWNED BY {0}; DROP ROLE {0}").format(sql.Identifier(name)))
    assert "dropped outside the ledger" in bi.cli("bi-role", "--list").output
    name, password = bi.make("gone", "--company", B)  # made anew: for the company asked now
    with bi.connect(name, password) as conn:
        assert _rows(conn, "SELECT DISTINCT company_id FROM bi.calls") == [(B,)]
    assert bi.cli("bi-role", name, "--drop").exit_code == 0


def test_downgrading_takes_back_what_the_roles_were_granted(server_url):
    """Below 0016 there is no row-level security: the roles (the cluster's, left in place) must
    not keep grants that would then show them every company's rows."""
    with owned_database(server_url) as database:
        _seed(database.engine)
        name, password = database.make("down", "--company", A)
        with database.connect(name, password) as conn:
            assert _rows(conn, "SELECT count(*) FROM llm_call_log") == [(8,)]
        downgrade(database.engine, "0015")
        with database.connect(name, password) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT count(*) FROM llm_call_log")
        assert database.owner_rows("SELECT count(*) FROM pg_policies") == [(0,)]
        assert database.owner_rows("SELECT count(*) FROM pg_class WHERE relrowsecurity") == [(0,)]
        assert database.owner_rows("SELECT to_regnamespace('bi') IS NULL") == [(True,)]
        upgrade(database.engine)
