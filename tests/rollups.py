"""A check shared by tests: every rollup table equals the raw calls summed at its grain."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.ledger import rollups


def rollup_differences(session: Session, company: str | None = None) -> dict[str, tuple[set, set]]:
    """Per rollup table whose rows differ from the raw GROUP BY: (rows only in the rollup, rows only
    in the raw sums). Empty when every rollup is exact. `company` limits both sides to one company."""
    where = "WHERE company_id = :company" if company is not None else ""
    differences = {}
    for rollup, grain in rollups.grains():
        table = rollup.table(grain)
        keys = (grain.name, *rollup.key)
        stored = session.execute(text(
            f"SELECT {', '.join(keys)}, {', '.join(rollup.measures)} FROM {table} {where}"), {"company": company}).all()
        raw_source = f"(SELECT * FROM llm_call_log {where}) AS calls"
        raw = session.execute(text(
            f"SELECT {grain.sql}, {', '.join(rollups.source_of(k) for k in rollup.key)}, "
            f"{', '.join(rollups.AGGREGATES[m] for m in rollup.measures)} FROM {raw_source} "
            f"{rollups.PROMOTED_SOURCE if rollup.promoted else ''} "
            f"GROUP BY {', '.join(str(n) for n in range(1, len(keys) + 1))}"), {"company": company}).all()
        # Rows whose every measure is 0 carry nothing (a repriced call's correction may leave none).
        stored_rows = {tuple(row) for row in stored if any(row[len(keys):])}
        raw_rows = {tuple(row) for row in raw}
        if stored_rows != raw_rows:
            differences[table] = (stored_rows - raw_rows, raw_rows - stored_rows)
    return differences
