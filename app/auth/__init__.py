"""Who is calling: API keys (:mod:`app.auth.keys`), the check every request passes
(:mod:`app.auth.requests`), and the company a request may see (:func:`scoped_company`)."""

from __future__ import annotations

from dataclasses import dataclass

import flask
from flask_smorest import abort


@dataclass(frozen=True)
class Principal:
    """The key a request came with: `company_id` None spans every company."""

    key_id: int
    name: str
    company_id: str | None
    scopes: frozenset[str]


def current_principal() -> Principal | None:
    """The request's key; None outside a request (CLI commands, services called directly)."""
    if not flask.has_request_context():
        return None
    return flask.g.get("principal")


def key_company() -> str | None:
    """The company the request's key is bound to; None for a platform key or outside a request."""
    principal = current_principal()
    return principal.company_id if principal else None


def require_every_company(what: str) -> None:
    """403 unless the request's key spans every company: `what` (e.g. "metrics") sums them all."""
    company = key_company()
    if company is not None:
        abort(403, message=f"This API key is bound to company {company!r}; {what} span every company: "
                           "use a key made without --company.")


def scoped_company(requested: str | None, *, sent: bool) -> str | None:
    """The company a request may act on: a key bound to a company acts on that company only —
    `requested` must be it when the client `sent` one (403 otherwise), and is it when not."""
    company = key_company()
    if company is None:
        return requested
    if sent and requested != company:
        abort(403, message=f"This API key is bound to company {company!r}; it cannot act on "
                           f"{'every company' if requested is None else repr(requested)}.")
    return company
