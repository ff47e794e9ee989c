"""What each rollup is: its table, time grain, dimensions and measures — the one description the
ledger keeps in step (:mod:`app.ledger.rollups`) and analytics reads to choose where to answer.

A rollup sums the call log per time bucket and per value of a few dimensions, always with the
company. Each rollup exists in one table per grain — ``day`` and ``month``
(the first day of the month), and ``hour`` for the company totals — named ``rollup_<name>_<grain>``.
Grains are chosen by question, so that a rollup's size grows with the distinct values active in
a bucket, not with the number of calls:

============== ========================== ============================================================
rollup         dimensions                 answers
============== ========================== ============================================================
company        —                          totals, daily series, previous period, rolling 30 days
model          provider, model            by model and by provider; totals of one model
endpoint       endpoint                   by endpoint
assistant      assistant, provider, model by assistant (with its latest name); an assistant by model,
                                          a model by assistant
user           user                       by user (month rows only: its days are user_model's)
user_model     user, provider, model      one user by model; a model by user
assistant_user assistant, user           an assistant by user
dimension      dimension, value           by a metadata key an operator promoted (project, team …)
============== ========================== ============================================================

Only ``assistant_user`` crosses two high-cardinality dimensions (users × assistants), because
the by-assistant breakdown per user asks exactly that; nothing crosses endpoints with users or
assistants. ``provider`` and ``model`` are the canonical names a call is grouped under
(``llm_call_log.canonical_provider``/``canonical_model``, :func:`app.pricing.catalog.canonical`):
one model is one row whatever spelling clients sent.

Every rollup row counts calls, failed calls and unpriced calls, sums the tokens (input, output,
total), the three costs (exact ``NUMERIC``) and the durations (and how many calls had one):
:data:`TOTALS`. The rollups of a few dozen keys per bucket (company, model, endpoint, assistant)
also sum every token type (:data:`MEASURES`: cache reads, cache writes, audio, reasoning …);
those of users and promoted values, the largest, keep the totals only, since every row is
written again by each write that touches its key. Success is a measure, not a key: a key's
failed calls do not make a row of their own. NULL dimensions (no user, no assistant, no endpoint) are a group of their own
(``NULLS NOT DISTINCT``). Rollups with an assistant keep ``assistant_name``, the latest non-null
name reported in the bucket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, Index, Numeric, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from app.db import Base
from app.token_types import TOKEN_SUMS, TOTAL_TOKENS

# Sums of many calls: 20 integer digits, the same 18 decimals as a call's cost.
SUM_MONEY = Numeric(38, 18)
COST_SUMS = ("input_cost", "output_cost", "total_cost")
COUNTS = ("calls", "failed_calls", "unpriced_calls")
DURATIONS = ("duration_ms_sum", "timed_calls")
# Every measure a rollup may keep, in column order, and those every rollup keeps.
MEASURES: tuple[str, ...] = (*COUNTS, *TOKEN_SUMS, *COST_SUMS, *DURATIONS)
TOTALS: tuple[str, ...] = (*COUNTS, "input_tokens", "output_tokens", TOTAL_TOKENS, *COST_SUMS, *DURATIONS)


@dataclass(frozen=True)
class Grain:
    """A time bucket: the rollup column holding it and how a call's timestamp falls into it."""

    name: str  # "hour", "day" or "month": also the bucket column's name
    sql: str  # the bucket of the call log's `timestamp` (in UTC whatever the session's zone)

    @property
    def python_type(self) -> type:
        return datetime if self.name == "hour" else date


HOUR = Grain("hour", "date_trunc('hour', timestamp, 'UTC')")
DAY = Grain("day", "(timezone('UTC', timestamp))::date")
MONTH = Grain("month", "(date_trunc('month', timezone('UTC', timestamp)))::date")


@dataclass(frozen=True)
class Dimension:
    name: str  # the rollup column (and the name analytics groups and filters by)
    source: str  # the SQL of its value for a row of the call log (`promoted`: a promoted_dimension row)


# The promoted metadata keys a call is summed under, one rollup row per key (app/ledger/dimensions.py).
# The LIMIT (never reached: at most 10 keys are promoted) tells the planner how few there are; it
# would otherwise guess thousands of rows for the small table and plan the ingest statement as if
# it were enormous.
PROMOTED_SOURCE = "CROSS JOIN (SELECT key FROM promoted_dimension LIMIT 10) AS promoted"
DIMENSIONS = {dimension.name: dimension for dimension in (
    Dimension("user_id", "user_id"),
    Dimension("assistant_id", "assistant_id"),
    Dimension("endpoint", "endpoint"),
    Dimension("provider", "canonical_provider"),
    Dimension("model", "canonical_model"),
    Dimension("dimension", "promoted.key"),
    Dimension("value", "metadata ->> promoted.key"),
)}
# Every rollup also keeps this, as a column of the same name in the call log.
ALWAYS = ("company_id",)


@dataclass(frozen=True)
class Rollup:
    name: str
    dimensions: tuple[str, ...]  # keys of DIMENSIONS, besides the company
    grains: tuple[Grain, ...] = (DAY, MONTH)
    indexed: tuple[str, ...] = ()  # dimensions filtered on alone: an index (dimension, bucket) each
    measures: tuple[str, ...] = MEASURES  # or TOTALS
    tables: dict[str, type] = field(default_factory=dict, compare=False, repr=False)  # grain → ORM class

    @property
    def names_assistants(self) -> bool:
        return "assistant_id" in self.dimensions

    @property
    def promoted(self) -> bool:
        """Summed once per promoted metadata key (its source joins promoted_dimension)."""
        return "dimension" in self.dimensions

    @property
    def key(self) -> tuple[str, ...]:
        """The columns that identify a row besides its bucket."""
        return ("company_id", *self.dimensions)

    def table(self, grain: Grain) -> str:
        return f"rollup_{self.name}_{grain.name}"

    def model(self, grain: Grain) -> type:
        return self.tables[grain.name]

    def has(self, grain: Grain) -> bool:
        return grain in self.grains

    def covers(self, dimensions: set[str] | frozenset[str]) -> bool:
        return set(dimensions) <= set(self.dimensions)


COMPANY = Rollup("company", (), grains=(HOUR, DAY, MONTH))
MODEL = Rollup("model", ("provider", "model"))
ENDPOINT = Rollup("endpoint", ("endpoint",))
ASSISTANT = Rollup("assistant", ("assistant_id", "provider", "model"), indexed=("assistant_id",))
# Users at month grain only: the days at the edges of a range come from user_model (every write
# would otherwise upsert one more row per user it touches).
USER = Rollup("user", ("user_id",), grains=(MONTH,), indexed=("user_id",), measures=TOTALS)
USER_MODEL = Rollup("user_model", ("user_id", "provider", "model"), indexed=("user_id", "model"), measures=TOTALS)
ASSISTANT_USER = Rollup("assistant_user", ("assistant_id", "user_id"), indexed=("assistant_id",), measures=TOTALS)
PROMOTED = Rollup("dimension", ("dimension", "value"), measures=TOTALS)
# Smallest first: analytics answers from the first that has every dimension a question needs.
ROLLUPS: tuple[Rollup, ...] = (COMPANY, MODEL, ENDPOINT, ASSISTANT, USER, USER_MODEL, ASSISTANT_USER, PROMOTED)


def at_grain(rollup: Rollup, grain: Grain) -> Rollup:
    """`rollup`, or where it has no table of `grain`, the smallest rollup with its dimensions that
    has one (user days are read from user_model)."""
    if rollup.has(grain):
        return rollup
    return next(other for other in ROLLUPS if other.has(grain) and other.covers(set(rollup.dimensions)))


def rollup_tables() -> list[str]:
    """Every rollup table's name (for row counts and maintenance)."""
    return [rollup.table(grain) for rollup in ROLLUPS for grain in rollup.grains]


class PromotedDimension(Base):
    """A metadata key promoted to a dimension; `ready` once its history has been summed."""

    __tablename__ = "promoted_dimension"

    key: Mapped[str] = mapped_column(primary_key=True)
    ready: Mapped[bool] = mapped_column(server_default=text("false"))
    promoted_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (CheckConstraint("key ~ '^[a-z][a-z0-9_]{0,39}$'", name="key_is_a_name"),)


def _count() -> Any:
    return mapped_column(BigInteger, server_default=text("0"))


class _RollupRow:
    KEY: tuple[str, ...] = ()  # the columns of the unique key, which identifies a row

    # No surrogate key: the unique key identifies a row (Citus wants every unique key to hold the
    # distribution column, company_id, and this one does).
    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"primary_key": [cls.__table__.c[name] for name in cls.KEY]}  # type: ignore[attr-defined]


def _orm_class(rollup: Rollup, grain: Grain) -> type:
    """The typed table of one rollup at one grain (rows are identified by their unique key)."""
    table = rollup.table(grain)
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"__tablename__": table, "__annotations__": annotations}
    bucket_type = DateTime(timezone=True) if grain is HOUR else Date()
    annotations[grain.name] = Mapped[grain.python_type]
    namespace[grain.name] = mapped_column(bucket_type)
    annotations["company_id"] = Mapped[str]
    for name in rollup.dimensions:
        nullable = name in ("user_id", "assistant_id", "endpoint", "value")
        annotations[name] = Mapped[str | None] if nullable else Mapped[str]
        namespace[name] = mapped_column(Text, nullable=nullable)
    if rollup.names_assistants:
        annotations["assistant_name"] = Mapped[str | None]
    for name in rollup.measures:
        money = name in COST_SUMS
        annotations[name] = Mapped[Decimal] if money else Mapped[int]
        namespace[name] = mapped_column(SUM_MONEY, server_default=text("0")) if money else _count()
    key = (grain.name, *rollup.key)
    namespace["__table_args__"] = (
        # The bucket leads: every question reads a range of buckets, of every company or of one
        # (the second column). Few indexes: each new row of a write goes into all of them.
        UniqueConstraint(*key, name=f"uq_{table}_key", postgresql_nulls_not_distinct=True),
        *(Index(None, name, grain.name) for name in rollup.indexed),
    )
    namespace["KEY"] = key
    class_name = "Rollup" + "".join(part.title() for part in rollup.name.split("_")) + grain.name.title()
    return type(class_name, (_RollupRow, Base), namespace)


for _rollup in ROLLUPS:
    for _grain in _rollup.grains:
        _rollup.tables[_grain.name] = _orm_class(_rollup, _grain)
