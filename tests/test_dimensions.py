"""Promoted dimensions: metadata keys counted like users or models, without losing or doubling a call."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

from app import analytics, create_app
from app.config import Settings
from app.db import Database
from app.ledger import Ledger, dimensions
from app.ledger.reprice import Repricer, RepriceScope
from app.pricing.catalog import TokenPrices
from app.pricing.overrides import Override, set_override
from app.records import NewCall
from tests.committed import delete_company
from tests.rollups import rollup_differences

PERIOD = "startDate=2026-03-01&endDate=2026-03-31"


def record(session, day: int, project: str | None, n: int, **fields) -> None:
    metadata = {"project": project, "team": "core"} if project is not None else {"team": "core"}
    company = fields.pop("company_id", "dims")
    calls = [NewCall(provider="openai", model="gpt-4o", input_tokens=1000 * (k + 1), output_tokens=10,
                     company_id=company, timestamp=datetime(2026, 3, day, 9, k, tzinfo=UTC),
                     metadata=metadata, **fields) for k in range(n)]
    Ledger(session).record(calls)


def promote(session, key: str = "project") -> None:
    dimensions.promote(session, key)
    dimensions.ensure_value_index(session.connection(), key, concurrently=False)
    for _ in dimensions.backfill(session, key, today=date(2026, 3, 31)):
        pass


def raw_by_project(session) -> dict:
    rows = session.execute(text(
        "SELECT metadata ->> 'project', coalesce(sum(total_cost), 0), count(*) FROM llm_call_log "
        "WHERE company_id = 'dims' GROUP BY 1")).all()
    return {key: (cost, calls) for key, cost, calls in rows}


def test_a_promoted_key_counts_every_call_once_and_breaks_down_like_a_user(client, session):
    record(session, 2, "alpha", 3)
    record(session, 3, None, 1)
    dimensions.promote(session, "project")  # from here on ingest counts the key itself …
    record(session, 4, "beta", 2)  # … so these are counted at once,
    record(session, 2, "alpha", 1)  # late call for a day the recount has not reached yet
    assert client.get(f"/api/costs/breakdown?by=project&{PERIOD}").status_code == 409  # not ready yet
    dimensions.ensure_value_index(session.connection(), "project", concurrently=False)
    for _ in dimensions.backfill(session, "project", today=date(2026, 3, 31)):
        pass
    record(session, 5, "alpha", 1)  # after the recount
    assert rollup_differences(session) == {}
    body = client.get(f"/api/costs/breakdown?by=project&{PERIOD}&companyId=dims").json
    assert {e["key"]: (Decimal(e["cost"]), e["calls"]) for e in body["entries"]} == raw_by_project(session)
    assert body["pagination"]["total"] == 3
    assert [e["key"] for e in body["entries"]] == ["alpha", "beta", None]  # most cost first; None: no project
    listed = client.get("/api/dimensions").json["dimensions"]
    assert [(d["key"], d["ready"]) for d in listed] == [("project", True)]


def test_records_filter_by_a_dimension_uses_its_index_and_counts_from_the_rollup(client, session):
    record(session, 2, "alpha", 4)
    record(session, 2, "beta", 2)
    promote(session)
    body = client.get("/api/costs?dimension=project:alpha&companyId=dims&limit=2").json
    assert body["pagination"]["total"] == 4 and body["pagination"]["totalExact"] is True
    assert all(r["metadata"]["project"] == "alpha" for r in body["records"]) and len(body["records"]) == 2
    page = analytics.list_calls(session, analytics.CallFilters(dimension=("project", "alpha"), company_id="dims"),
                                1, 1, count_exactly_up_to=1)
    assert (page.total, page.total_exact) == (4, True)  # past the exact limit: from the dimension rollup
    session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(session.execute(text(
        "EXPLAIN SELECT id FROM llm_call_log WHERE (metadata ->> 'project') = 'alpha' "
        # the month of its calls, as a records query's date range does: which other months have
        # partitions depends on the tests before (the service's partition keeper commits them)
        "AND timestamp >= '2026-03-01' AND timestamp < '2026-04-01' "
        "ORDER BY timestamp DESC LIMIT 50")).scalars())
    assert "Index Cond: (((metadata ->> 'project'::text) = 'alpha'::text)" in plan  # newest first, by the index
    assert "Seq Scan" not in plan and "\n  ->  Sort" not in plan


def test_repricing_corrects_the_dimension_rollup_too(session):
    record(session, 2, "alpha", 2)
    record(session, 3, "beta", 1)
    promote(session)
    before = raw_by_project(session)
    set_override(session, Override(provider="openai", model="gpt-4o", company_id="dims",
                                   valid_from=datetime(2026, 3, 1, tzinfo=UTC),
                                   prices=TokenPrices(input_per_mtok=Decimal("1"), output_per_mtok=Decimal("3"))))
    session.flush()
    assert Repricer(session, RepriceScope(company="dims", include_priced=True)).run().repriced == 3
    assert raw_by_project(session) != before
    assert rollup_differences(session, "dims") == {}


@pytest.mark.parametrize(("query", "status", "field"), [
    ("/api/costs/breakdown?by=colour", 400, "by"),
    ("/api/costs/breakdown?by=Project", 400, "by"),
    ("/api/costs?dimension=colour:red", 400, "dimension"),
    ("/api/costs?dimension=nocolon", 400, "dimension"),
])
def test_unknown_dimensions_are_400_naming_the_field(client, query, status, field):
    r = client.get(query)
    assert r.status_code == status, r.json
    assert field in r.json["errors"]["query"]


def test_promote_rules_and_demote(session):
    with pytest.raises(dimensions.DimensionError, match="not a dimension name"):
        dimensions.promote(session, "Bad Key")
    promote(session, "team")
    with pytest.raises(dimensions.DimensionError, match="already"):
        dimensions.promote(session, "team")
    for n in range(dimensions.MAX_PROMOTED - 1):
        dimensions.promote(session, f"k{n}")
    with pytest.raises(dimensions.DimensionError, match="at most"):
        dimensions.promote(session, "one_too_many")
    record(session, 2, "alpha", 1)
    dimensions.demote(session, "team")
    assert session.execute(text("SELECT count(*) FROM rollup_dimension_day WHERE dimension = 'team'")).scalar_one() == 0
    assert "team" not in [d.key for d in dimensions.list_promoted(session)]
    assert session.execute(text(
        "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_llm_call_log_dim_team'")).scalar_one() == 0


COMPANY = "dims-cli"


@pytest.fixture
def committed_app(engine, database_url):
    """An app whose commands commit for real (CREATE INDEX CONCURRENTLY needs its own transactions)."""
    app = create_app(Settings(database_url=database_url), Database(engine))
    yield app
    with engine.begin() as conn:
        for key in ("cli_project",):
            conn.execute(text("DELETE FROM rollup_dimension_day WHERE dimension = :k"), {"k": key})
            conn.execute(text("DELETE FROM rollup_dimension_month WHERE dimension = :k"), {"k": key})
            conn.execute(text("DELETE FROM promoted_dimension WHERE key = :k"), {"k": key})
            conn.execute(text(f"DROP INDEX IF EXISTS {dimensions.index_name(key)}"))
    delete_company(engine, COMPANY)


def test_cli_promotes_with_an_index_on_every_partition_then_demotes(committed_app, engine):
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        record(session, 6, "alpha", 2, company_id=COMPANY)
        session.commit()
    runner = committed_app.test_cli_runner()
    result = runner.invoke(args=["costs", "dimensions", "promote", "cli_project"])
    assert result.exit_code == 0, result.output
    assert "cli_project: ready" in result.output
    with engine.connect() as conn:
        valid = conn.execute(text("SELECT indisvalid FROM pg_index WHERE indexrelid = "
                                  "CAST('ix_llm_call_log_dim_cli_project' AS regclass)")).scalar_one()
        partitions = conn.execute(text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'llm_call_log'::regclass"
                                       )).scalar_one()
        attached = conn.execute(text("SELECT count(*) FROM pg_inherits WHERE inhparent = "
                                     "CAST('ix_llm_call_log_dim_cli_project' AS regclass)")).scalar_one()
        counted = conn.execute(text("SELECT sum(calls) FROM rollup_dimension_day WHERE dimension = 'cli_project' "
                                    "AND company_id = :c"), {"c": COMPANY}).scalar_one()
    assert valid and attached == partitions and counted == 2
    assert "cli_project  ready" in runner.invoke(args=["costs", "dimensions", "list"]).output
    assert runner.invoke(args=["costs", "dimensions", "promote", "cli_project"]).exit_code == 2  # already
    result = runner.invoke(args=["costs", "dimensions", "demote", "cli_project"])
    assert result.exit_code == 0 and "demoted" in result.output
