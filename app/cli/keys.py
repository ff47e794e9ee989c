"""`flask costs keys …`: make, list and revoke API keys."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask.cli import AppGroup
from tabulate import tabulate

from app.auth.keys import KeyError_, create_key, find_key, list_keys, revoke_key
from app.cli.common import costs
from app.db import get_session

keys = AppGroup("keys", help="API keys: who may call the service, for which company, with which scopes.")
costs.add_command(keys)


@keys.command("create")
@click.option("--company", help="Bind the key to this company (omit: a platform key that spans every company).")
@click.option("--scopes", default="ingest,read", show_default=True,
              help="Comma-separated: ingest (write calls), read (analytics, prices), admin (change prices).")
@click.option("--name", help="What the key is for (default: made from the company and scopes).")
def keys_create(company: str | None, scopes: str, name: str | None) -> None:
    """Make a key and print it once, as the last line (only its hash is kept)."""
    try:
        made = create_key(get_session(), name=name or f"{company or 'platform'} {scopes}", company_id=company,
                          scopes=scopes)
    except KeyError_ as exc:
        raise click.UsageError(str(exc)) from None
    get_session().commit()
    key = made.key
    click.echo(f"Key {key.id} ({key.name}): {'company ' + key.company_id if key.company_id else 'every company'}, "
               f"scopes {','.join(key.scopes)}. Shown once, keep it now:")
    click.echo(made.secret)


@keys.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Also the revoked keys.")
def keys_list(include_revoked: bool) -> None:
    """The keys (never their secrets)."""
    rows = [[k.id, k.prefix, k.name, k.company_id or "(every company)", ",".join(k.scopes),
             k.created_at.isoformat(timespec="seconds"),
             k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else ""]
            for k in list_keys(get_session(), include_revoked=include_revoked)]
    click.echo(tabulate(rows, headers=["id", "prefix", "name", "company", "scopes", "created", "revoked"],
                        disable_numparse=True) if rows else "no keys (make one with `flask costs keys create`)")


@keys.command("revoke")
@click.argument("key")
def keys_revoke(key: str) -> None:
    """Revoke a key by its id or prefix (refused by every worker within 10 seconds)."""
    try:
        revoked = revoke_key(get_session(), key)
    except KeyError_ as exc:
        raise click.UsageError(str(exc)) from None
    get_session().commit()
    click.echo(f"Key {revoked.id} ({revoked.name}) revoked at {revoked.revoked_at.isoformat(timespec='seconds')}")


@keys.command("local")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=".ledger-key",
              show_default=True, help="Where the local key is kept (git-ignored).")
def keys_local(path: Path) -> None:
    """For `make run` on a developer's machine: the local platform admin key kept in FILE, made
    (and written there, readable by its owner only) when the file is missing or its key revoked."""
    session = get_session()
    if path.exists():
        secret = path.read_text().strip()
        if find_key(session, secret) is not None:
            click.echo(secret)
            return
    made = create_key(session, name="local admin (make run)", company_id=None, scopes="ingest,read,admin")
    session.commit()
    path.write_text(made.secret + "\n")
    os.chmod(path, 0o600)
    click.echo(made.secret)
