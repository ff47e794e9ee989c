"""`flask costs …`: operator commands, thin, over the same services as the API.

Each command owns its unit of work: it opens a session, calls services, commits at the end.
One module per concern: reports, prices, repricing and demo data (`ledger`), partitions and
rollups (`storage`), promoted dimensions (`dimensions`); the groups and shared formats are in `common`.
"""

from __future__ import annotations

from flask import Flask

from app.cli import (  # noqa: F401 (importing registers the commands)
    alerts, bi, budgets, dimensions, insight, keys, ledger, prices, reports, storage)
from app.cli.common import costs


def init_app(app: Flask) -> None:
    app.cli.add_command(costs)
