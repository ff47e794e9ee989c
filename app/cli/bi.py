"""`flask costs bi-role …`: read-only database roles for BI tools (see app/bi)."""

from __future__ import annotations

import click
from tabulate import tabulate

from app.bi.roles import (DEFAULT_CONNECTION_LIMIT, DEFAULT_STATEMENT_TIMEOUT_S, BiRoleError, drop_role, list_roles,
                          make_role)
from app.cli.common import costs
from app.db import get_session


@costs.command("bi-role")
@click.argument("name", required=False)
@click.option("--company", help="Read only this company's rows (omit: every company's).")
@click.option("--password", envvar="BI_ROLE_PASSWORD",
              help="The role's password (or BI_ROLE_PASSWORD; omit: generated for a new role, printed once).")
@click.option("--new-password", is_flag=True, help="Give an existing role a new generated password.")
@click.option("--connection-limit", type=click.IntRange(min=1), default=DEFAULT_CONNECTION_LIMIT, show_default=True)
@click.option("--statement-timeout", type=click.IntRange(min=1), default=DEFAULT_STATEMENT_TIMEOUT_S,
              show_default=True, help="Seconds a statement of the role may run.")
@click.option("--drop", is_flag=True, help="Take back its grants and drop the role.")
@click.option("--list", "list_", is_flag=True, help="List the roles made for BI tools.")
def bi_role(name: str | None, company: str | None, password: str | None, new_password: bool, connection_limit: int,
            statement_timeout: int, drop: bool, list_: bool) -> None:
    """Make (or, run again, refresh) the login role NAME that reads the views of the schema `bi`
    — one company's rows with --company — and nothing else; --drop removes it, --list lists them."""
    session = get_session()
    if list_:
        rows = [[r.name, r.company_id or "(every company)", r.created_at.isoformat(timespec="seconds"),
                 r.connection_limit if r.exists else "(role dropped outside the ledger)"]
                for r in list_roles(session)]
        click.echo(tabulate(rows, headers=["role", "company", "made", "connection limit"], disable_numparse=True)
                   if rows else "no BI roles (make one with `flask costs bi-role NAME [--company C]`)")
        return
    if not name:
        raise click.UsageError("NAME is missing (or --list)")
    try:
        if drop:
            dropped = drop_role(session, name)
            session.commit()
            click.echo(f"Role {dropped.name} dropped.")
            return
        made = make_role(session, name, company_id=company, password=password, new_password=new_password,
                         connection_limit=connection_limit, statement_timeout_s=statement_timeout)
    except BiRoleError as exc:
        raise click.UsageError(str(exc)) from None
    session.commit()
    url = session.get_bind().engine.url
    sees = f"company {made.company_id}'s rows" if made.company_id else "every company's rows"
    click.echo(f"Role {made.name} {'made' if made.created else 'refreshed'}: reads the views of schema bi, "
               f"{sees}; read-only, {connection_limit} connections, statements up to {statement_timeout} s.")
    click.echo(f"  psql 'host={url.host or 'localhost'} port={url.port or 5432} dbname={url.database} "
               f"user={made.name}' -c 'SELECT * FROM bi.daily_costs LIMIT 5'")
    if made.generated:
        click.echo("Its password, shown once, keep it now:")
        click.echo(made.password)
    elif made.password is not None:
        click.echo("Its password was set.")
