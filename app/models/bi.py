"""`bi_role`: the database roles made for BI tools, and the companies whose rows each may read.

A row is written by `flask costs bi-role` (:mod:`app.bi.roles`) when it makes a login role: the
role's name and its company, or NULL for a role that reads every company. Row-level security on
the tables behind the ``bi`` views (migration 0016) shows a role the rows of the companies listed
here for it, and nothing to a role not listed. Roles are the cluster's; this table is the
database's: a role is only ever changed or dropped by the ledger that made it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

# A role name needing no quotes (lower case, PostgreSQL's 63-byte limit), never a reserved pg_ name.
ROLE_NAME_PATTERN = "^[a-z][a-z0-9_]{0,62}$"


class BiRole(Base):
    __tablename__ = "bi_role"

    name: Mapped[str] = mapped_column(primary_key=True)
    company_id: Mapped[str | None]  # NULL: every company
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        CheckConstraint(f"name ~ '{ROLE_NAME_PATTERN}' AND name NOT LIKE 'pg\\_%'", name="name_is_plain"),
    )
