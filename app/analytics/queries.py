"""Every aggregation query of the ledger: built here, read top to bottom, run as one statement each.

A question is answered by one :class:`Query`: a few *sources* — the rows of one rollup
(:mod:`app.ledger.rollup_tables`) that make up a period (:mod:`app.analytics.spans`: month rows
plus and minus day rows), filtered — and *parts* selected from them (totals, a ranked breakdown,
its top entries), joined with ``UNION ALL`` into one result whose rows are tagged by part. One
statement is one snapshot: the parts of an answer always add up, even while calls arrive.

A ranked part returns its chosen rows (the top N or a page: a top-N sort, not a sort of every
key) and one ``<part>:all`` row with the sums over every key and how many keys there are, so
that "other" — what the chosen rows leave out — is exact: all minus the chosen. Sums over rollup rows are exact ``NUMERIC``;
unpriced calls add nothing to a cost and are counted in ``unpriced``. Keys come back as text
(days as ``YYYY-MM-DD``); NULL is the group of calls without that dimension.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.analytics.spans import Span
from app.ledger.rollup_tables import DAY, Rollup, at_grain

# The measures every source carries, and how a part sums them.
_SUMS = ("coalesce(sum(cost), 0) AS cost, coalesce(sum(tokens), 0)::bigint AS tokens, "
         "coalesce(sum(calls), 0)::bigint AS calls, coalesce(sum(failures), 0)::bigint AS failures, "
         "coalesce(sum(unpriced), 0)::bigint AS unpriced")
ORDERS = {"cost": "cost DESC", "calls": "calls DESC", "tokens": "tokens DESC", "key": "key ASC NULLS LAST"}
# The first day of the month of the oldest call stored raw (NULL when there is none).
_FIRST_KEPT_MONTH = "(SELECT (date_trunc('month', timezone('UTC', min(timestamp))))::date FROM llm_call_log)"
# Ties: the most expensive first, then the busiest, then by key.
_TIES = "cost DESC, calls DESC, key ASC NULLS LAST"


@dataclass(frozen=True)
class Row:
    """One result row of a part: a key's sums (or a part's totals), and its rank or key count."""

    key: str | None
    cost: Any
    tokens: int
    calls: int
    failures: int
    unpriced: int
    rank: int | None  # ranked rows: 1, 2, …; the ":all" row: how many keys


class Query:
    def __init__(self) -> None:
        self._ctes: list[str] = []
        self._parts: list[str] = []
        self.params: dict[str, Any] = {}

    def bind(self, value: Any) -> str:
        name = f"v{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def source(self, rollup: Rollup, spans: Iterable[Span], where: Mapping[str, Any],
               columns: Iterable[str] = (), *, kept_only: bool = False) -> str:
        """A named source: the signed rows of `rollup` over `spans` whose columns equal `where`'s
        values, with `columns` (the keys parts will group by; ``day`` for day buckets) and the
        measures. `kept_only`: only buckets whose raw calls are still stored (the retention drops
        whole months, so the month of the oldest raw call on)."""
        name = f"s{len(self._ctes)}"
        columns = list(dict.fromkeys(columns))
        selects = []
        for span in spans:
            bucket = span.grain.name
            conditions = [_equals(column, self.bind(value), value) for column, value in where.items()]
            if span.first is not None:
                conditions.append(f"{bucket} >= {self.bind(span.first)}")
            if span.last is not None:
                conditions.append(f"{bucket} <= {self.bind(span.last)}")
            if kept_only:
                conditions.append(f"{bucket} >= {_FIRST_KEPT_MONTH}")
            sign = "-" if span.sign < 0 else ""
            keys = [c if c != "day" or span.grain is DAY else "NULL::date AS day" for c in columns]
            selects.append(
                f"SELECT {''.join(k + ', ' for k in keys)}{sign}total_cost AS cost, {sign}total_tokens AS tokens, "
                f"{sign}calls AS calls, {sign}failed_calls AS failures, {sign}unpriced_calls AS unpriced "
                f"FROM {at_grain(rollup, span.grain).table(span.grain)} WHERE {' AND '.join(conditions) or 'true'}")
        if not selects:  # an empty period
            selects.append(f"SELECT {''.join(c + ', ' for c in columns)}total_cost AS cost, total_tokens AS tokens, "
                           f"calls, failed_calls AS failures, unpriced_calls AS unpriced "
                           f"FROM {at_grain(rollup, DAY).table(DAY)} WHERE false")
        self._ctes.append(f"{name} AS ({' UNION ALL '.join(selects)})")
        return name

    def totals(self, part: str, source: str) -> None:
        """The sums over every row of `source`."""
        self._parts.append(f"SELECT CAST({self.bind(part)} AS text) AS part, NULL::text AS key, {_SUMS}, "
                           f"NULL::bigint AS rank FROM {source}")

    def ranked(self, part: str, source: str, key: str, *, top: int | None = None,
               window: tuple[int, int] | None = None, order: str = "cost") -> str:
        """Sums per `key` (a column of `source`), ranked by `order`: the `top` first, or the ranks
        of `window` (offset, limit), or every key; plus the ``<part>:all`` row. Returns the name of
        the CTE of the chosen keys (columns ``key``, as text, and ``rank``), for :meth:`split`.

        With a top or a page, keys are ranked on what the order needs alone (cost and calls, and
        tokens when ranked by tokens), and only the chosen keys are summed in full: most keys of a
        breakdown by user never leave the database, so summing their other measures is wasted."""
        number = len(self._ctes)
        grouped, chosen, details = f"g{number}", f"c{number}", f"d{number}"
        ranking = ", ".join(dict.fromkeys([ORDERS[order], *([] if order == "key" else _TIES.split(", "))]))
        offset, limit = window if window is not None else (0, top)
        label, everything = self.bind(part), self.bind(part + ":all")
        if limit is None:  # every key: one grouping with every sum
            self._ctes.append(f"{grouped} AS MATERIALIZED (SELECT {key}::text AS key, {_SUMS} FROM {source} "
                              f"GROUP BY 1 HAVING sum(calls) <> 0)")
            self._parts.append(f"SELECT CAST({label} AS text), key, cost, tokens, calls, failures, unpriced, "
                               f"row_number() OVER (ORDER BY {ranking}) FROM {grouped}")
            self._parts.append(f"SELECT CAST({everything} AS text), NULL, coalesce(sum(cost), 0), "
                               f"coalesce(sum(tokens), 0)::bigint, coalesce(sum(calls), 0)::bigint, "
                               f"coalesce(sum(failures), 0)::bigint, coalesce(sum(unpriced), 0)::bigint, count(*) "
                               f"FROM {grouped}")
            self._ctes.append(f"{chosen} AS (SELECT key, row_number() OVER (ORDER BY {ranking}) AS rank "
                              f"FROM {grouped})")
            return chosen  # every key (only read if a part reads it)
        tokens = ", coalesce(sum(tokens), 0)::bigint AS tokens" if order == "tokens" else ""
        self._ctes.append(f"{grouped} AS MATERIALIZED (SELECT {key}::text AS key, coalesce(sum(cost), 0) AS cost, "
                          f"coalesce(sum(calls), 0)::bigint AS calls{tokens} FROM {source} GROUP BY 1 "
                          f"HAVING sum(calls) <> 0)")
        page = f"SELECT * FROM {grouped} ORDER BY {ranking}"
        if offset:
            page += f" OFFSET {self.bind(offset)}"
        page += f" LIMIT {self.bind(limit)}"
        self._ctes.append(f"{chosen} AS MATERIALIZED (SELECT key, CAST({self.bind(offset)} AS bigint) "
                          f"+ row_number() OVER (ORDER BY {ranking}) AS rank FROM ({page}) AS page)")
        self._ctes.append(f"{details} AS (SELECT {key}::text AS key, {_SUMS} FROM {source} "
                          f"WHERE {key}::text IN (SELECT key FROM {chosen} WHERE key IS NOT NULL) "
                          f"OR ({key} IS NULL AND EXISTS (SELECT FROM {chosen} WHERE key IS NULL)) GROUP BY 1)")
        self._parts.append(f"SELECT CAST({label} AS text), c.key, d.cost, d.tokens, d.calls, d.failures, d.unpriced, "
                           f"c.rank FROM {chosen} c JOIN {details} d ON d.key IS NOT DISTINCT FROM c.key")
        self._parts.append(f"SELECT CAST({everything} AS text), NULL, {_SUMS}, (SELECT count(*) FROM {grouped}) "
                           f"FROM {source}")
        return chosen

    def split(self, part: str, source: str, key: str, chosen: str, *, by: str = "day") -> None:
        """Sums per value of `by` (a column of `source`: its day buckets) and chosen key: a row per
        (`by` value, chosen key with rows there) whose ``key`` is the `by` value and ``rank`` the
        chosen key's rank in `chosen` (a CTE of :meth:`ranked`), and a row per `by` value with
        ``rank`` NULL summing every other key — so the rows of one `by` value add up to all of its
        rows. The join is on the key as text, a NULL key matching a chosen NULL (the calls without
        that dimension) through a scalar subquery, so that the join stays an equality."""
        self._parts.append(
            f"SELECT CAST({self.bind(part)} AS text), {by}::text, {_SUMS}, rank FROM ("
            f"SELECT s.{by}, s.cost, s.tokens, s.calls, s.failures, s.unpriced, coalesce(c.rank, "
            f"CASE WHEN s.{key} IS NULL THEN (SELECT rank FROM {chosen} WHERE key IS NULL) END) AS rank "
            f"FROM {source} s LEFT JOIN {chosen} c ON c.key = s.{key}::text) AS keyed GROUP BY {by}, rank")

    def keyed(self, part: str, source: str, key: str, keys: Iterable[str | None]) -> None:
        """Sums per `key` over `source` for these keys only (None: the rows without one); keys
        without rows are absent. (The same keys in another period, say.)"""
        keys = list(keys)
        named = self.bind([k for k in keys if k is not None])
        nulls = f" OR {key} IS NULL" if None in keys else ""
        self._parts.append(f"SELECT CAST({self.bind(part)} AS text), {key}::text, {_SUMS}, NULL::bigint "
                           f"FROM {source} WHERE {key}::text = ANY(CAST({named} AS text[])){nulls} GROUP BY 2")

    def sql(self) -> str:
        return f"WITH {', '.join(self._ctes)} " + " UNION ALL ".join(self._parts)

    def run(self, session: Session) -> dict[str, list[Row]]:
        """Rows by part; ranked rows in rank order."""
        found: dict[str, list[Row]] = defaultdict(list)
        for part, *values in session.execute(text(self.sql()), self.params):
            found[part].append(Row(*values))
        for rows in found.values():
            rows.sort(key=lambda row: row.rank or 0)
        return found


def _equals(column: str, placeholder: str, value: Any) -> str:
    """`column` equal to the value, or to any of a list of values."""
    return f"{column} = ANY(CAST({placeholder} AS text[]))" if isinstance(value, list) else f"{column} = {placeholder}"


def models_with_calls(session: Session, models: Iterable[str]) -> list[str]:
    """Which of these canonical model names ever had calls, in the order given."""
    models = list(models)
    found = set(session.execute(text("SELECT DISTINCT model FROM rollup_model_month WHERE model = ANY(:models)"),
                                {"models": models}).scalars())
    return [model for model in models if model in found]


def latest_assistant_names(session: Session, ids: list[str], company_id: str | None) -> dict[str, str]:
    """Each assistant's most recent non-null name (over all days): a short backward scan of
    (assistant_id, day) per assistant."""
    if not ids:
        return {}
    company = "AND company_id = :company" if company_id is not None else ""
    rows = session.execute(text(
        "SELECT wanted.id, latest.assistant_name FROM unnest(CAST(:ids AS text[])) AS wanted(id) "
        "CROSS JOIN LATERAL (SELECT assistant_name FROM rollup_assistant_day "
        f"WHERE assistant_id = wanted.id AND assistant_name IS NOT NULL {company} "
        "ORDER BY day DESC LIMIT 1) AS latest"), {"ids": ids, "company": company_id})
    return dict(rows.all())


def has_calls(session: Session, rollup: Rollup, where: Mapping[str, Any]) -> bool:
    """Whether any call was ever recorded with these rollup column values (month rows, any time)."""
    conditions = " AND ".join(_equals(column, f":{column}", value) for column, value in where.items()) or "true"
    table = rollup.table(rollup.grains[-1])
    return bool(session.execute(text(f"SELECT EXISTS (SELECT FROM {table} WHERE {conditions})"), dict(where))
                .scalar_one())


