"""Read-only login roles for BI tools: make (or refresh), drop and list them.

A BI role is a PostgreSQL login role that can read the views of the schema ``bi`` and nothing
else of the ledger: ``NOINHERIT``, no superuser, database or role creation, replication or
``BYPASSRLS``; a connection limit; ``default_transaction_read_only`` and a ``statement_timeout``
as its defaults. It is granted ``CONNECT`` on this database, ``USAGE`` on ``bi``, ``SELECT`` on
the views, and — since the views run with their reader's privileges (``security_invoker``) —
``SELECT`` on exactly the columns of the tables the views read, as the catalog lists them
(``information_schema.view_column_usage``): never ``api_key``, the partitions of
``llm_call_log``, or a column no view shows. On each of those tables it gets a SELECT policy of
its own, named after it: the rows of the company its ``bi_role`` row names
(:data:`app.bi.COMPANY_ROWS`), or every row for a role made without a company. Nothing is granted
while ``bi`` holds anything but ``security_invoker`` views, or a view reads a table without
row-level security or a known filter. ``bi_role`` records the roles
made and their companies; each role may read its own row there.

Making a role that exists refreshes it: its attributes, policies and grants are set again from
scratch (a migration that changes the views changes what they must be), its password only when
asked. A role is only changed or dropped when this database's ``bi_role`` lists it: roles are the
cluster's, and one of the same name may belong to someone else. Passwords are hashed here
(SCRAM-SHA-256, by libpq) and only the hash is sent to the server, so a password never appears in
a statement or a log. Nothing here commits: the command that owns the unit of work does.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.bi import COMPANY_ROWS, SCHEMA
from app.models import BiRole
from app.models.bi import ROLE_NAME_PATTERN

MAX_COMPANY_LENGTH = 200
DEFAULT_CONNECTION_LIMIT = 5
DEFAULT_STATEMENT_TIMEOUT_S = 300
# A role that only has CREATEROLE may set these on a role at any time; SUPERUSER, REPLICATION and
# BYPASSRLS only a superuser may even name in ALTER ROLE: they are refused when made, checked after.
_ATTRIBUTES = "LOGIN NOINHERIT NOCREATEDB NOCREATEROLE"
_NEVER = "NOSUPERUSER NOREPLICATION NOBYPASSRLS"


class BiRoleError(ValueError):
    """A role that cannot be made, refreshed or dropped; the message says why."""


@dataclass(frozen=True)
class MadeRole:
    name: str
    company_id: str | None  # None: every company
    created: bool  # False: it existed and was refreshed
    password: str | None  # the password set now (None: unchanged)
    generated: bool  # the password was made here: show it, once


@dataclass(frozen=True)
class ListedRole:
    name: str
    company_id: str | None
    created_at: datetime
    exists: bool  # False: dropped outside `flask costs bi-role`
    connection_limit: int | None


def role_name_problem(name: str) -> str | None:
    """Why `name` cannot be a BI role's name; None when it can."""
    if not re.fullmatch(ROLE_NAME_PATTERN, name) or name.startswith("pg_"):
        return (f"{name!r} is not a plain role name: a lower-case letter, then up to 62 lower-case letters, "
                "digits or underscores, not starting with pg_")
    return None


def company_problem(company_id: str) -> str | None:
    if not company_id or len(company_id) > MAX_COMPANY_LENGTH:
        return f"a company id has 1 to {MAX_COMPANY_LENGTH} characters"
    if any(ord(char) < 32 or 0xD800 <= ord(char) <= 0xDFFF for char in company_id):
        return "a company id holds no control characters or lone surrogates"
    return None


def make_role(
    session: Session, name: str, *, company_id: str | None = None, password: str | None = None,
    new_password: bool = False, connection_limit: int = DEFAULT_CONNECTION_LIMIT,
    statement_timeout_s: int = DEFAULT_STATEMENT_TIMEOUT_S,
) -> MadeRole:
    """Make the login role `name` reading the ``bi`` views — of `company_id` only, or of every
    company — or refresh it if this ledger made it before (same company only: a role's company is
    changed by dropping and making it again, never by omission).

    A new role gets `password`, or a generated one; an existing one keeps its password unless
    `password` is given or `new_password` asks for a generated one.
    """
    if problem := role_name_problem(name):
        raise BiRoleError(problem)
    if company_id is not None and (problem := company_problem(company_id)):
        raise BiRoleError(problem)
    if password is not None and not password:
        raise BiRoleError("the password is empty")
    if connection_limit < 1:
        raise BiRoleError("the connection limit must be at least 1")
    if statement_timeout_s < 1:
        raise BiRoleError("the statement timeout must be at least 1 second")
    db = _Raw(session)
    _check_can_manage_roles(db)
    registered = session.get(BiRole, name)
    exists = db.value("SELECT count(*) FROM pg_roles WHERE rolname = %s", (name,)) == 1
    if exists and registered is None:
        raise BiRoleError(f"the role {name} exists and was not made by `flask costs bi-role` for this database: "
                          "it is left as it is (choose another name)")
    if registered is not None and exists and registered.company_id != company_id:
        sees = f"company {registered.company_id}" if registered.company_id else "every company"
        raise BiRoleError(f"the role {name} reads {sees}; to change that, drop it (--drop) and make it again")
    generated = password is None and (not exists or new_password)
    if generated:
        password = _generated_password()

    role = sql.Identifier(name)
    if not exists:
        try:
            db.run(sql.SQL(f"CREATE ROLE {{}} WITH {_ATTRIBUTES} {_NEVER}").format(role))
        except psycopg.errors.DuplicateObject:
            raise BiRoleError(f"the role {name} was made by someone else meanwhile: nothing changed") from None
    elif db.value("SELECT rolsuper OR rolreplication OR rolbypassrls FROM pg_roles WHERE rolname = %s", (name,)):
        raise BiRoleError(f"the role {name} has been given SUPERUSER, REPLICATION or BYPASSRLS since it was made: "
                          "row-level security cannot hold it; drop it (--drop) and make it again")
    db.run(sql.SQL(f"ALTER ROLE {{}} WITH {_ATTRIBUTES} CONNECTION LIMIT {{}}").format(
        role, sql.Literal(connection_limit)))
    if password is not None:
        db.run(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(db.scram_hash(name, password))))
    db.run(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(role))
    db.run(sql.SQL("ALTER ROLE {} SET statement_timeout = {}").format(role, sql.Literal(f"{statement_timeout_s}s")))
    _revoke_everything(db, name)
    _grant_reading(db, name, company_id)
    if registered is None:
        session.add(BiRole(name=name, company_id=company_id))
    else:  # the same company, or a role made again after it was dropped outside the ledger
        registered.company_id = company_id
    session.flush()
    return MadeRole(name=name, company_id=company_id, created=not exists, password=password,
                    generated=generated)


def drop_role(session: Session, name: str) -> BiRole:
    """Take back everything `name` was granted in this database and drop the role."""
    registered = session.get(BiRole, name)
    if registered is None:
        raise BiRoleError(f"{name} is not a role made by `flask costs bi-role` for this database")
    db = _Raw(session)
    _check_can_manage_roles(db)
    if db.value("SELECT count(*) FROM pg_roles WHERE rolname = %s", (name,)) == 1:
        _revoke_everything(db, name)
        try:
            db.run(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
        except psycopg.errors.DependentObjectsStillReferenced as exc:  # granted something in another database
            raise BiRoleError(f"the role {name} cannot be dropped: {exc.diag.message_primary}; "
                              f"{exc.diag.message_detail or ''}".strip()) from None
    session.delete(registered)
    session.flush()
    return registered


def list_roles(session: Session) -> list[ListedRole]:
    """The roles this database's ledger made, by name, with whether each still exists."""
    rows = session.execute(select(BiRole).order_by(BiRole.name)).scalars().all()
    db = _Raw(session)
    limits = dict(db.rows("SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname = ANY(%s)",
                          ([row.name for row in rows],)))
    return [ListedRole(name=row.name, company_id=row.company_id, created_at=row.created_at,
                       exists=row.name in limits, connection_limit=limits.get(row.name)) for row in rows]


def _generated_password() -> str:
    return secrets.token_urlsafe(24)


def _check_can_manage_roles(db: _Raw) -> None:
    if not db.value("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"):
        raise BiRoleError("the database role the ledger connects as cannot make roles (it needs CREATEROLE); "
                          "run this command with a DATABASE_URL of a role that can")
    if db.value("SELECT to_regnamespace(%s) IS NULL", (SCHEMA,)):
        raise BiRoleError(f"the schema {SCHEMA} does not exist: migrate the database first (alembic upgrade head)")
    if not db.value("SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = to_regclass('llm_call_log')"):
        raise BiRoleError("only the owner of the ledger's tables (the role that ran the migrations) or a superuser "
                          "can give roles their policies and grants")


def _revoke_everything(db: _Raw, name: str) -> None:
    """Drop `name`'s policies and revoke every privilege it holds in this database: on tables and
    views (or their columns), schemas, and the database itself."""
    role = sql.Identifier(name)
    for schema, table, policy in db.rows("""
            SELECT n.nspname, c.relname, p.polname FROM pg_policy p
            JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE to_regrole(%s) = ANY (p.polroles)""", (name,)):
        db.run(sql.SQL("DROP POLICY {} ON {}").format(sql.Identifier(policy), sql.Identifier(schema, table)))
    for schema, relation in db.rows("""
            SELECT DISTINCT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE EXISTS (SELECT FROM aclexplode(c.relacl) AS acl WHERE acl.grantee = to_regrole(%(role)s))
               OR EXISTS (SELECT FROM pg_attribute a, aclexplode(a.attacl) AS acl
                          WHERE a.attrelid = c.oid AND acl.grantee = to_regrole(%(role)s))""", {"role": name}):
        db.run(sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(sql.Identifier(schema, relation), role))
    for (schema,) in db.rows("SELECT nspname FROM pg_namespace, aclexplode(nspacl) AS acl "
                             "WHERE acl.grantee = to_regrole(%s)", (name,)):
        db.run(sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(sql.Identifier(schema), role))
    db.run(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(sql.Identifier(db.database), role))


def _grant_reading(db: _Raw, name: str, company_id: str | None) -> None:
    """CONNECT, USAGE on ``bi``, SELECT on its views and its own ``bi_role`` row; on each table
    they read, SELECT on the columns they read and a policy showing the role its rows."""
    role = sql.Identifier(name)
    read: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in db.rows(
            "SELECT DISTINCT table_schema, table_name, column_name FROM information_schema.view_column_usage "
            "WHERE view_schema = %s AND table_schema <> view_schema ORDER BY 1, 2, 3", (SCHEMA,)):
        read.setdefault((schema, table), []).append(column)
    for schema, table in read:
        protected = db.value("SELECT relrowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                             "WHERE n.nspname = %s AND c.relname = %s", (schema, table))
        if table not in COMPANY_ROWS or not protected:
            raise BiRoleError(f"the views of {SCHEMA} read {schema}.{table}, which has no row-level security "
                              "for BI roles: nothing granted (a migration must enable it, app.bi.COMPANY_ROWS "
                              "say which rows a company sees)")
    # A view that reads with its owner's privileges would show every row: the schema holds none.
    definer = [relation for (relation,) in db.rows(
        "SELECT relname FROM pg_class WHERE relnamespace = to_regnamespace(%s) "
        "AND relkind IN ('r', 'p', 'v', 'm', 'f') "
        "AND NOT coalesce('security_invoker=true' = ANY (reloptions), false) ORDER BY 1", (SCHEMA,))]
    if definer:
        raise BiRoleError(f"{SCHEMA} holds {', '.join(definer)}, which would read with its owner's privileges "
                          "(every company's rows): only security_invoker views may be granted")
    db.run(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(db.database), role))
    db.run(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(SCHEMA), role))
    db.run(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(sql.Identifier(SCHEMA), role))
    registry = sql.Identifier(db.value("SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                       "WHERE c.oid = to_regclass('bi_role')"), "bi_role")
    db.run(sql.SQL("GRANT SELECT ON TABLE {} TO {}").format(registry, role))
    company = sql.SQL("(SELECT company_id FROM {} WHERE name = current_user)").format(registry)
    for (schema, table), columns in read.items():
        rows = sql.SQL(COMPANY_ROWS[table]).format(company=company) if company_id is not None else sql.SQL("true")
        db.run(sql.SQL("CREATE POLICY {} ON {} FOR SELECT TO {} USING ({})").format(
            role, sql.Identifier(schema, table), role, rows))
        db.run(sql.SQL("GRANT SELECT ({}) ON TABLE {} TO {}").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(schema, table), role))


class _Raw:
    """The session's psycopg connection, in the session's transaction: statements composed with
    psycopg.sql (identifiers and literals quoted by the driver), parameters bound by it."""

    def __init__(self, session: Session) -> None:
        self.conn = session.connection().connection.driver_connection

    @property
    def database(self) -> str:
        return self.value("SELECT current_database()")

    def run(self, statement: sql.Composable) -> None:
        self.conn.execute(statement)

    def rows(self, query: str, params: Any = None) -> list[tuple]:
        return self.conn.execute(query, params).fetchall()

    def value(self, query: str, params: Any = None) -> Any:
        return self.conn.execute(query, params).fetchone()[0]

    def scram_hash(self, name: str, password: str) -> str:
        return self.conn.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256").decode()
