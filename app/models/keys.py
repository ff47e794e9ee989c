"""`api_key`: who may call the service, for which company, with which scopes.

A key is shown once, when made (``flask costs keys create``); only its SHA-256 is stored. A key
bound to a company (``company_id``) writes and reads that company's calls only; a key without one
spans every company (a platform team's). Scopes: ``ingest`` (write calls), ``read`` (analytics,
prices), ``admin`` (change prices). A revoked key (``revoked_at``) is refused from then on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ARRAY, CheckConstraint, Identity, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

SCOPES = ("ingest", "read", "admin")


class ApiKey(Base):
    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str]
    company_id: Mapped[str | None]
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # The key's first characters, shown by `keys list` to tell keys apart (not a secret by itself).
    prefix: Mapped[str]
    secret_hash: Mapped[str] = mapped_column(unique=True)  # hex SHA-256 of the whole key
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("scopes <@ ARRAY['ingest', 'read', 'admin']::text[] AND cardinality(scopes) > 0",
                        name="known_scopes"),
        CheckConstraint(text("length(name) BETWEEN 1 AND 200"), name="name_length"),
    )
