"""rollups by question, and the canonical provider and model of every call

The full-grain daily rollup (day × company × provider × model × user × assistant × endpoint ×
success) had about as many rows as the call log once users, assistants and endpoints number in
the thousands. It and its three coarser siblings are replaced by rollups chosen by question
(app/ledger/rollup_tables.py), each at a day and a month grain (and an hour grain for company
totals): company; model (provider, model); endpoint; assistant (assistant, provider, model);
user; user_model (user, provider, model); assistant_user (assistant, user). Success is a measure
(failed_calls), no longer a key.

llm_call_log gains canonical_provider and canonical_model — the names a call is grouped and
filtered under (app.pricing.catalog.canonical at the time of this migration): filled here for
the calls already stored. The indexes on the names as sent give way to indexes on the canonical
names; the index on total_cost, which served no query, is dropped.

The new rollups are filled from the old full-grain rollup, which holds the history of months
whose raw calls were dropped, and the hourly one; month rows are the sums of day rows.
Downgrade rebuilds the old rollups from the raw calls still stored (months dropped under the
retention are then missing from them) and the hourly one from rollup_company_hour.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKENS = ("input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens",
          "input_audio_tokens", "cached_audio_tokens", "reasoning_tokens", "output_audio_tokens", "total_tokens")
COSTS = ("input_cost", "output_cost", "total_cost")
OLD_MEASURES = ("calls", "unpriced_calls", *TOKENS, *COSTS, "duration_ms_sum", "timed_calls")  # 0004, 0005
MEASURES = ("calls", "failed_calls", "unpriced_calls", *TOKENS, *COSTS, "duration_ms_sum", "timed_calls")
# The rollups of many keys (users) keep the totals only.
TOTALS = ("calls", "failed_calls", "unpriced_calls", "input_tokens", "output_tokens", "total_tokens", *COSTS,
          "duration_ms_sum", "timed_calls")
SLIM = {"user", "user_model", "assistant_user"}
# name → (dimensions, grains, indexed dimensions), as app/ledger/rollup_tables.py had them here.
ROLLUPS = {
    "company": ((), ("hour", "day", "month"), ()),
    "model": (("provider", "model"), ("day", "month"), ()),
    "endpoint": (("endpoint",), ("day", "month"), ()),
    "assistant": (("assistant_id", "provider", "model"), ("day", "month"), ("assistant_id",)),
    "user": (("user_id",), ("month",), ("user_id",)),  # its days are user_model's
    "user_model": (("user_id", "provider", "model"), ("day", "month"), ("user_id", "model")),
    "assistant_user": (("assistant_id", "user_id"), ("day", "month"), ("assistant_id",)),
}
NULLABLE = {"user_id", "assistant_id", "endpoint"}
RAW_MEASURES = ("count(*), count(*) FILTER (WHERE NOT success), count(*) FILTER (WHERE price_id IS NULL), "
                + ", ".join(f"sum({t})" for t in TOKENS) + ", "
                + ", ".join(f"coalesce(sum({c}), 0)" for c in COSTS)
                + ", coalesce(sum(duration_ms), 0), count(duration_ms)")
OLD_ROLLUPS = ("llm_call_daily", "llm_call_daily_model", "llm_call_daily_user", "llm_call_hourly")


def _measure_columns(names: tuple[str, ...] = MEASURES) -> list[sa.Column]:
    return [sa.Column(name, sa.Numeric(38, 18) if name in COSTS else sa.BigInteger(), server_default=sa.text("0"),
                      nullable=False) for name in names]


def _canonical_names() -> None:
    """Fill canonical_provider/canonical_model from a table of the distinct names as sent."""
    from app.pricing.catalog import canonical  # the rules of the catalog bundled at this revision

    connection = op.get_bind()
    pairs = connection.execute(sa.text("SELECT DISTINCT provider, model FROM llm_call_log")).all()
    op.execute("CREATE TEMP TABLE canonical_names (provider text, model text, canonical_provider text, "
               "canonical_model text)")
    if pairs:
        connection.execute(sa.text("INSERT INTO canonical_names VALUES (:p, :m, :cp, :cm)"),
                           [{"p": p, "m": m, "cp": canonical(p, m)[0], "cm": canonical(p, m)[1]} for p, m in pairs])
    op.execute("UPDATE llm_call_log c SET canonical_provider = n.canonical_provider, canonical_model = n.canonical_model "
               "FROM canonical_names n WHERE n.provider = c.provider AND n.model = c.model")
    # The old full-grain rollup may hold names of calls whose raw months were dropped.
    old = connection.execute(sa.text(
        "SELECT DISTINCT provider, model FROM llm_call_daily d WHERE NOT EXISTS "
        "(SELECT FROM canonical_names n WHERE n.provider = d.provider AND n.model = d.model)")).all()
    if old:
        connection.execute(sa.text("INSERT INTO canonical_names VALUES (:p, :m, :cp, :cm)"),
                           [{"p": p, "m": m, "cp": canonical(p, m)[0], "cm": canonical(p, m)[1]} for p, m in old])


def _create_rollups() -> None:
    for name, (dimensions, grains, indexed) in ROLLUPS.items():
        for grain in grains:
            table = f"rollup_{name}_{grain}"
            bucket = sa.DateTime(timezone=True) if grain == "hour" else sa.Date()
            op.create_table(
                table,
                sa.Column(grain, bucket, nullable=False),
                sa.Column("company_id", sa.Text(), nullable=False),
                *[sa.Column(d, sa.Text(), nullable=d in NULLABLE) for d in dimensions],
                *([sa.Column("assistant_name", sa.Text(), nullable=True)] if "assistant_id" in dimensions else []),
                *_measure_columns(TOTALS if name in SLIM else MEASURES),
                sa.UniqueConstraint(grain, "company_id", *dimensions, name=f"uq_{table}_key",
                                    postgresql_nulls_not_distinct=True),
            )
            # Rows of the current buckets are updated by every write: room for HOT updates.
            op.execute(f"ALTER TABLE {table} SET (fillfactor = 80)")
            for dimension in indexed:
                op.create_index(f"ix_{table}_{dimension}_{grain}", table, [dimension, grain])


def _fill_rollups() -> None:
    # The old rollups kept success as a key: its failed calls are the calls of its failed rows.
    def old_sums(names: tuple[str, ...]) -> str:
        return ", ".join("coalesce(sum(calls) FILTER (WHERE NOT success), 0)" if m == "failed_calls" else f"sum({m})"
                         for m in names)
    source = ("(SELECT d.*, n.canonical_provider AS c_provider, n.canonical_model AS c_model FROM llm_call_daily d "
              "JOIN canonical_names n ON n.provider = d.provider AND n.model = d.model) AS d")
    for name, (dimensions, grains, _) in ROLLUPS.items():
        kept = TOTALS if name in SLIM else MEASURES
        measures = ", ".join(kept)
        columns = ", ".join(("day", "company_id", *dimensions))
        selected = ", ".join(("day", "company_id", *({"provider": "c_provider", "model": "c_model"}.get(d, d)
                                                      for d in dimensions)))
        named = "assistant_id" in dimensions
        for grain, bucket in (("day", "day"), ("month", "(date_trunc('month', day))::date")):
            if grain not in grains:
                continue
            op.execute(
                f"INSERT INTO rollup_{name}_{grain} ({grain}, {columns[5:]}{', assistant_name' if named else ''}, "
                f"{measures}) SELECT {bucket}, {selected[5:]}{', max(assistant_name)' if named else ''}, "
                f"{old_sums(kept)} FROM {source} GROUP BY 1, {selected[5:]}")
    # Hours: from the raw calls where they are kept, before that from the old hourly rollup (which
    # did not count failures).
    measures = ", ".join(MEASURES)
    op.execute(f"INSERT INTO rollup_company_hour (hour, company_id, {measures}) "
               f"SELECT date_trunc('hour', timestamp, 'UTC'), company_id, {RAW_MEASURES} "
               f"FROM llm_call_log GROUP BY 1, 2")
    old = ", ".join(OLD_MEASURES)
    op.execute(f"INSERT INTO rollup_company_hour (hour, company_id, {old}) "
               f"SELECT hour, company_id, {old} FROM llm_call_hourly "
               f"WHERE hour < coalesce((SELECT date_trunc('hour', min(timestamp), 'UTC') FROM llm_call_log), "
               f"'infinity')")


def upgrade() -> None:
    op.add_column("llm_call_log", sa.Column("canonical_provider", sa.Text(), nullable=True))
    op.add_column("llm_call_log", sa.Column("canonical_model", sa.Text(), nullable=True))
    _canonical_names()
    op.alter_column("llm_call_log", "canonical_provider", nullable=False)
    op.alter_column("llm_call_log", "canonical_model", nullable=False)
    op.drop_index("ix_llm_call_log_model_timestamp", table_name="llm_call_log")
    op.drop_index("ix_llm_call_log_provider_timestamp", table_name="llm_call_log")
    op.drop_index("ix_llm_call_log_total_cost", table_name="llm_call_log")
    op.create_index("ix_llm_call_log_canonical_model_timestamp", "llm_call_log", ["canonical_model", "timestamp"])
    op.create_index("ix_llm_call_log_canonical_provider_timestamp", "llm_call_log",
                    ["canonical_provider", "timestamp"])
    _create_rollups()
    _fill_rollups()
    for table in OLD_ROLLUPS:
        op.drop_table(table)
    op.execute("DROP TABLE canonical_names")


# --- downgrade: the rollups of 0004 and 0005, rebuilt from the raw calls --------------------

_OLD_DAILY_KEY = ("day", "company_id", "provider", "model", "user_id", "assistant_id", "endpoint", "success")
LATEST_NAME = "(array_agg(assistant_name ORDER BY timestamp DESC) FILTER (WHERE assistant_name IS NOT NULL))[1]"


def _old_table(name: str, key: tuple[str, ...], named: bool) -> None:
    bucket = {"hour": sa.DateTime(timezone=True), "day": sa.Date()}
    op.create_table(
        name,
        *[sa.Column(k, bucket.get(k, sa.Boolean() if k == "success" else sa.Text()), nullable=k in NULLABLE)
          for k in key],
        *([sa.Column("assistant_name", sa.Text(), nullable=True)] if named else []),
        *_measure_columns(OLD_MEASURES),
        sa.UniqueConstraint(*key, name=f"uq_{name}_key", postgresql_nulls_not_distinct=name != "llm_call_hourly"),
    )


def downgrade() -> None:
    _old_table("llm_call_daily", _OLD_DAILY_KEY, True)
    for column in ("assistant_id", "company_id", "model", "user_id"):
        op.create_index(f"ix_llm_call_daily_{column}_day", "llm_call_daily", [column, "day"])
    model_key = tuple(k for k in _OLD_DAILY_KEY if k != "user_id")
    _old_table("llm_call_daily_model", model_key, True)
    op.create_index("ix_llm_call_daily_model_assistant_id_day", "llm_call_daily_model", ["assistant_id", "day"])
    op.create_index("ix_llm_call_daily_model_company_id_day", "llm_call_daily_model", ["company_id", "day"])
    op.create_index("ix_llm_call_daily_model_by_day", "llm_call_daily_model", ["day"])
    op.create_index("ix_llm_call_daily_model_model_day", "llm_call_daily_model", ["model", "day"])
    user_key = ("day", "company_id", "user_id", "success")
    _old_table("llm_call_daily_user", user_key, False)
    op.create_index("ix_llm_call_daily_user_by_day", "llm_call_daily_user", ["day"])
    op.create_index("ix_llm_call_daily_user_company_id_day", "llm_call_daily_user", ["company_id", "day"])
    _old_table("llm_call_hourly", ("hour", "company_id"), False)
    measures = ", ".join(OLD_MEASURES)
    raw_old = RAW_MEASURES.replace("count(*) FILTER (WHERE NOT success), ", "", 1)
    day = "(timezone('UTC', timestamp))::date"
    op.execute(f"INSERT INTO llm_call_daily ({', '.join(_OLD_DAILY_KEY)}, assistant_name, {measures}) "
               f"SELECT {day}, {', '.join(_OLD_DAILY_KEY[1:])}, {LATEST_NAME}, {raw_old} FROM llm_call_log "
               f"GROUP BY 1, {', '.join(_OLD_DAILY_KEY[1:])}")
    sums = ", ".join(f"sum({m})" for m in OLD_MEASURES)
    op.execute(f"INSERT INTO llm_call_daily_model ({', '.join(model_key)}, assistant_name, {measures}) "
               f"SELECT {', '.join(model_key)}, max(assistant_name), {sums} FROM llm_call_daily "
               f"GROUP BY {', '.join(model_key)}")
    op.execute(f"INSERT INTO llm_call_daily_user ({', '.join(user_key)}, {measures}) "
               f"SELECT {', '.join(user_key)}, {sums} FROM llm_call_daily GROUP BY {', '.join(user_key)}")
    op.execute(f"INSERT INTO llm_call_hourly (hour, company_id, {measures}) "
               f"SELECT hour, company_id, {sums} FROM rollup_company_hour GROUP BY hour, company_id")
    for name, (_, grains, _) in ROLLUPS.items():
        for grain in grains:
            op.drop_table(f"rollup_{name}_{grain}")
    op.drop_index("ix_llm_call_log_canonical_provider_timestamp", table_name="llm_call_log")
    op.drop_index("ix_llm_call_log_canonical_model_timestamp", table_name="llm_call_log")
    op.create_index("ix_llm_call_log_total_cost", "llm_call_log", ["total_cost"])
    op.create_index("ix_llm_call_log_provider_timestamp", "llm_call_log", ["provider", "timestamp"])
    op.create_index("ix_llm_call_log_model_timestamp", "llm_call_log", ["model", "timestamp"])
    op.drop_column("llm_call_log", "canonical_model")
    op.drop_column("llm_call_log", "canonical_provider")
