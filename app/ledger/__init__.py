"""The write side of the ledger: every change to stored calls, their rollups and budgets' spend goes through here.

One door in, one hook out:

- :class:`Ledger` (:mod:`app.ledger.ingest`) records calls: prices them, writes them with one
  idempotent statement that also keeps every rollup and every budget's spend in step (recording
  the alerts it crosses), and hands the stored calls and the alerts to the after-write hook
  (:mod:`app.ledger.after_write`: the ``[CostTracking]`` and ``[BudgetAlert]`` log lines);
- :class:`GroupCommit` (:mod:`app.ledger.group_commit`) writes the single calls a process receives
  at the same moment through that door, together;
- :class:`Repricer` (:mod:`app.ledger.reprice`) brings stored costs in line with the price table;
- :mod:`app.ledger.rollups` describes each rollup (table, time grain, dimensions, measures) — the
  one place analytics learns what each rollup can answer — and keeps them exactly in step;
- :mod:`app.ledger.budget_spend` keeps `budget_spend` in step and records `budget_alert` rows.

Nothing here commits: the request, command or group commit that owns the unit of work does.
"""

from app.ledger.after_write import format_cost
from app.ledger.ingest import COPY_ABOVE, Ledger, utc_now

__all__ = ["COPY_ABOVE", "Ledger", "format_cost", "utc_now"]
