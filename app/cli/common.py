"""What every `flask costs …` command shares: the command groups and value formats."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

import click
from flask.cli import AppGroup

from app.bounds import moment_problem
from app.money import money_text

costs = AppGroup("costs", help="Operate the LLM cost ledger: reports, prices, repricing, demo data.")
prices = AppGroup("prices", help="The price table (model_price).")
costs.add_command(prices)
partitions = AppGroup("partitions", help="Monthly partitions of llm_call_log: create ahead, drop after retention.")
costs.add_command(partitions)
rollups_group = AppGroup("rollups", help="The rollup tables (rollup_*): sums of the calls per day and month.")
costs.add_command(rollups_group)

class _Bounded(click.DateTime):
    """A UTC date or date/time within the years the ledger holds (app.bounds)."""

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201 (click's signature)
        moment = super().convert(value, param, ctx)
        if problem := moment_problem(moment.replace(tzinfo=UTC)):
            self.fail(problem, param, ctx)
        return moment


DAY = _Bounded(["%Y-%m-%d"])
AT = _Bounded(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"])
FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
                      show_default=True)


def utc(moment: datetime | None) -> datetime | None:
    """A naive date/time from the command line, read as UTC."""
    return moment.replace(tzinfo=UTC) if moment else None


def amount(value: str, *, positive: bool = False) -> Decimal:
    """A decimal from the command line, exactly as typed: not negative (with `positive`, more than 0)."""
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise click.BadParameter(f"{value!r} is not a decimal number") from None
    if not number.is_finite() or number < 0 or (positive and not number):
        raise click.BadParameter("must be more than 0" if positive else "must be a non-negative decimal number")
    return number


def num(value) -> str:
    """An exact decimal as plain digits (no exponent, no trailing zeros); empty for None."""
    return "" if value is None else money_text(value)


@contextmanager
def logger_level(name: str, level: int) -> Iterator[None]:
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)
