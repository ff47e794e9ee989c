"""For tests that must commit for real (races need separate transactions): they write under a
company id of their own and delete everything written under it afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.ledger import rollups
from app.models import Budget, BudgetAlert, CallRequestKey, LlmCall
from app.partitions import list_partitions


def delete_company(engine: Engine, company: str) -> None:
    """Delete `company`'s calls, idempotency keys, rollup rows, budgets and alerts."""
    with Session(engine) as session:
        session.execute(delete(BudgetAlert).where(BudgetAlert.company_id == company))
        session.execute(delete(Budget).where(Budget.company_id == company))
        ids = select(LlmCall.id).where(LlmCall.company_id == company)
        session.execute(delete(CallRequestKey).where(CallRequestKey.company_id == company))
        session.execute(delete(LlmCall).where(LlmCall.id.in_(ids)))
        for rollup, grain in rollups.grains():
            table = rollup.model(grain)
            session.execute(delete(table).where(table.company_id == company))
        session.commit()


@contextmanager
def partitions_restored(engine: Engine) -> Iterator[None]:
    """Drop, afterwards, the (emptied) partitions a real service made meanwhile: its partition
    keeper commits the months it writes in, which other tests' plans would otherwise see."""
    with Session(engine) as session:
        before = {p.name for p in list_partitions(session)}
    yield
    with Session(engine) as session:
        for partition in list_partitions(session):
            if partition.name not in before:
                session.execute(text(f"DROP TABLE {partition.name}"))
        session.commit()
