"""Make, list, revoke and recognise API keys (table `api_key`).

A key reads ``llm_<8 characters>_<32 characters>``: the first part (its prefix) tells keys apart
in `keys list`; only the SHA-256 of the whole key is stored. Recognising a key costs one look-up
by that hash, remembered for `CACHE_SECONDS` per process (a revoked key is refused everywhere
within that time).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth import Principal
from app.models import ApiKey
from app.models.keys import SCOPES

CACHE_SECONDS = 10.0
_PREFIX = "llm_"


class KeyError_(ValueError):
    """A key that cannot be made or found; the message says why."""


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # shown once


def hash_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(text: str | Iterable[str]) -> list[str]:
    scopes = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise KeyError_(f"scopes must be some of {', '.join(SCOPES)} (got {', '.join(unknown) or 'none'})")
    return [scope for scope in SCOPES if scope in scopes]


def create_key(session: Session, *, name: str, company_id: str | None, scopes: str | Iterable[str]) -> NewKey:
    if not 1 <= len(name) <= 200:
        raise KeyError_("a key's name has 1 to 200 characters")
    if company_id is not None and not 1 <= len(company_id) <= 200:
        raise KeyError_("a company id has 1 to 200 characters")
    prefix = _PREFIX + secrets.token_hex(4)
    secret = f"{prefix}_{secrets.token_urlsafe(24)}"
    key = ApiKey(name=name, company_id=company_id, scopes=parse_scopes(scopes), prefix=prefix,
                 secret_hash=hash_of(secret))
    session.add(key)
    session.flush()
    return NewKey(key, secret)


def list_keys(session: Session, *, include_revoked: bool = False) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(query))


def revoke_key(session: Session, id_or_prefix: str) -> ApiKey:
    """Revoke one key, named by its id or its prefix."""
    condition = ApiKey.id == int(id_or_prefix) if id_or_prefix.isdigit() else ApiKey.prefix == id_or_prefix
    key = session.scalars(select(ApiKey).where(condition)).one_or_none()
    if key is None:
        raise KeyError_(f"no key {id_or_prefix!r}")
    if key.revoked_at is None:
        session.execute(update(ApiKey).where(ApiKey.id == key.id).values(revoked_at=datetime.now(UTC)))
        session.refresh(key)
    return key


def find_key(session: Session, secret: str) -> ApiKey | None:
    """The unrevoked key whose secret this is."""
    return session.scalars(select(ApiKey).where(ApiKey.secret_hash == hash_of(secret),
                                                ApiKey.revoked_at.is_(None))).one_or_none()


class KeyRing:
    """Recognises keys for one process: hash → principal (or None), remembered `CACHE_SECONDS`."""

    def __init__(self, session_factory: Callable[[], Session], *, ttl: float = CACHE_SECONDS) -> None:
        self._session_factory = session_factory
        self._ttl = ttl
        self._known: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def principal(self, secret: str) -> Principal | None:
        if not secret.startswith(_PREFIX) or len(secret) > 200:
            return None
        digest = hash_of(secret)
        now = time.monotonic()
        cached = self._known.get(digest)
        if cached and cached[0] > now:
            return cached[1]
        with self._session_factory() as session:
            key = find_key(session, secret)
            found = (Principal(key.id, key.name, key.company_id, frozenset(key.scopes)) if key else None)
            session.rollback()
        with self._lock:
            if len(self._known) > 10_000:  # many wrong keys: start over rather than grow
                self._known.clear()
            self._known[digest] = (now + self._ttl, found)
        return found

    def forget(self) -> None:
        with self._lock:
            self._known.clear()
