"""For tests that must commit for real (races need separate transactions): they write under a
company id of their own and delete everything written under it afterwards."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.ledger import rollups
from app.models import CallRequestKey, LlmCall


def delete_company(engine: Engine, company: str) -> None:
    """Delete `company`'s calls, idempotency keys and rollup rows."""
    with Session(engine) as session:
        ids = select(LlmCall.id).where(LlmCall.company_id == company)
        session.execute(delete(CallRequestKey).where(CallRequestKey.company_id == company))
        session.execute(delete(LlmCall).where(LlmCall.id.in_(ids)))
        for rollup, grain in rollups.grains():
            table = rollup.model(grain)
            session.execute(delete(table).where(table.company_id == company))
        session.commit()
