"""`flask costs reprice` and `app.ledger.reprice`: unpriced calls get priced once a price exists,
`--all` follows price corrections, range filters, and a second run changes nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.models import LlmCall, ModelPrice
from app.ledger.reprice import Repricer, RepriceScope

PROVIDER, MODEL = "acme", "acme-llm-1"  # a model the catalog does not know


def post_call(client, *, timestamp: str, company: str = "c-reprice", model: str = MODEL, request_id: str,
              input_tokens: int = 1_000, output_tokens: int = 500, cached: int = 0) -> dict:
    response = client.post("/api/calls", json={
        "provider": PROVIDER, "model": model, "inputTokens": input_tokens, "outputTokens": output_tokens,
        "cachedInputTokens": cached, "companyId": company, "requestId": request_id, "timestamp": timestamp,
    })
    assert response.status_code == 201, response.json
    return response.json


def add_price(session, valid_from: datetime, *, model: str = MODEL, input_per_mtok: str = "1.5",
              output_per_mtok: str = "6", cache_read_per_mtok: str | None = None) -> ModelPrice:
    price = ModelPrice(provider=PROVIDER, model=model, valid_from=valid_from, input_per_mtok=Decimal(input_per_mtok),
                       output_per_mtok=Decimal(output_per_mtok),
                       cache_read_per_mtok=Decimal(cache_read_per_mtok) if cache_read_per_mtok else None,
                       source="manual")
    session.add(price)
    session.commit()
    return price


def stored(session, call_id: int) -> LlmCall:
    return session.scalars(select(LlmCall).where(LlmCall.id == call_id).execution_options(populate_existing=True)).one()


def reprice(runner, *args: str) -> dict[str, object]:
    """Run the command; return its counters and totals parsed from the report."""
    result = runner.invoke(args=["costs", "reprice", *args])
    assert result.exit_code == 0, result.output
    out = result.stdout

    def count(label: str) -> int:
        found = re.search(rf"{label}:\s+([\d,]+)", out)
        return int(found.group(1).replace(",", "")) if found else 0

    old, new = re.search(r"Cost of the range: \$(\S+) -> \$(\S+)", out).groups()
    return {"examined": int(re.search(r"Examined ([\d,]+)", out).group(1).replace(",", "")),
            "newly": count("newly priced"), "repriced": count("re-priced"), "lost": count("no longer priced"),
            "unpriced": count("still unpriced"), "old": Decimal(old), "new": Decimal(new), "output": out}


def test_unpriced_call_is_priced_once_a_price_exists_and_a_second_run_changes_nothing(client, runner, session):
    call = post_call(client, timestamp="2025-03-01T12:00:00Z", request_id="r1")
    assert call["priced"] is False
    assert call["inputCost"] is call["outputCost"] is call["totalCost"] is call["priceId"] is None

    before = reprice(runner)  # no price yet: it stays unpriced, never $0
    assert (before["examined"], before["newly"], before["unpriced"]) == (1, 0, 1)
    assert f"{PROVIDER}/{MODEL}: 1 calls (no price for {PROVIDER}/{MODEL} (standard)" in before["output"]
    assert stored(session, call["id"]).total_cost is None

    price = add_price(session, datetime(2025, 1, 1, tzinfo=UTC))
    first = reprice(runner)
    assert (first["examined"], first["newly"], first["repriced"], first["unpriced"]) == (1, 1, 0, 0)
    assert (first["old"], first["new"]) == (Decimal(0), Decimal("0.0045"))
    row = stored(session, call["id"])
    assert row.price_id == price.id
    # 1,000 input tokens at $1.5/MTok and 500 output tokens at $6/MTok, exactly.
    assert (row.input_cost, row.output_cost, row.total_cost) == (Decimal("0.0015"), Decimal("0.003"), Decimal("0.0045"))

    second = reprice(runner)
    assert (second["examined"], second["newly"], second["repriced"], second["unpriced"]) == (0, 0, 0, 0)
    assert second["old"] == second["new"] == Decimal("0.0045")
    again = reprice(runner, "--all")
    assert (again["examined"], again["newly"], again["repriced"]) == (1, 0, 0)


def test_the_api_shows_the_repriced_costs(client, runner, session):
    call = post_call(client, timestamp="2025-03-01T12:00:00Z", request_id="r1", cached=400)
    add_price(session, datetime(2025, 1, 1, tzinfo=UTC), cache_read_per_mtok="0.15")
    reprice(runner)
    row = stored(session, call["id"])
    # 600 uncached at $1.5 + 400 cache reads at $0.15, and 500 output at $6, per million tokens.
    assert (row.input_cost, row.output_cost) == (Decimal("0.00096"), Decimal("0.003"))
    retry = client.post("/api/calls", json={"provider": PROVIDER, "model": MODEL, "inputTokens": 1_000,
                                            "outputTokens": 500, "companyId": "c-reprice", "requestId": "r1"})
    assert retry.status_code == 200 and retry.json["duplicate"]
    assert retry.json["priced"] is True and retry.json["totalCost"] == "0.00396"


def test_a_price_valid_only_after_the_call_does_not_price_it(client, runner, session):
    call = post_call(client, timestamp="2025-03-01T12:00:00Z", request_id="r1")
    add_price(session, datetime(2025, 3, 1, 12, 0, 1, tzinfo=UTC))  # one second too late
    result = reprice(runner)
    assert (result["examined"], result["newly"], result["unpriced"]) == (1, 0, 1)
    row = stored(session, call["id"])
    assert row.price_id is None and row.total_cost is None


def test_each_call_gets_the_price_in_force_at_its_own_time(client, runner, session):
    early = post_call(client, timestamp="2025-02-15T00:00:00Z", request_id="early")
    late = post_call(client, timestamp="2025-04-15T00:00:00Z", request_id="late")
    old = add_price(session, datetime(2025, 1, 1, tzinfo=UTC))
    new = add_price(session, datetime(2025, 4, 1, tzinfo=UTC), input_per_mtok="1", output_per_mtok="4")
    result = reprice(runner)
    assert result["newly"] == 2
    assert result["new"] == Decimal("0.0045") + Decimal("0.003")
    assert (stored(session, early["id"]).price_id, stored(session, late["id"]).price_id) == (old.id, new.id)
    assert stored(session, late["id"]).total_cost == Decimal("0.003")


def test_all_recomputes_priced_calls_after_a_price_correction(client, runner, session):
    price = add_price(session, datetime(2025, 1, 1, tzinfo=UTC))
    first = post_call(client, timestamp="2025-03-01T12:00:00Z", request_id="r1")
    second = post_call(client, timestamp="2025-03-02T12:00:00Z", request_id="r2", input_tokens=2_000,
                       output_tokens=0)
    assert (first["totalCost"], second["totalCost"]) == ("0.0045", "0.003")

    price.input_per_mtok = Decimal("2.5")  # the operator corrects a typo in the price
    session.commit()

    default = reprice(runner)  # the default run looks at unpriced calls only
    assert (default["examined"], default["repriced"]) == (0, 0)
    assert default["old"] == default["new"] == Decimal("0.0075")

    corrected = reprice(runner, "--all")
    assert (corrected["examined"], corrected["newly"], corrected["repriced"]) == (2, 0, 2)
    # Before: 0.0045 + 0.003. After: (1,000 × 2.5 + 500 × 6) / 1e6 + 2,000 × 2.5 / 1e6.
    assert (corrected["old"], corrected["new"]) == (Decimal("0.0075"), Decimal("0.0105"))
    assert stored(session, first["id"]).total_cost == Decimal("0.0055")
    assert stored(session, second["id"]).total_cost == Decimal("0.005")

    unchanged = reprice(runner, "--all")
    assert (unchanged["examined"], unchanged["repriced"]) == (2, 0)
    assert unchanged["old"] == unchanged["new"] == Decimal("0.0105")


def test_all_moves_a_call_to_the_newer_price_and_unprices_calls_no_price_covers(client, runner, session):
    price = add_price(session, datetime(2025, 1, 1, tzinfo=UTC))
    call = post_call(client, timestamp="2025-03-01T12:00:00Z", request_id="r1")
    other = post_call(client, timestamp="2025-01-15T12:00:00Z", request_id="r2")
    assert call["priceId"] == other["priceId"] == price.id

    # The operator learns the price only started on 2025-02-01, at a different rate.
    price.valid_from = datetime(2025, 2, 1, tzinfo=UTC)
    price.output_per_mtok = Decimal("8")
    session.commit()

    result = reprice(runner, "--all")
    assert (result["examined"], result["repriced"], result["lost"], result["unpriced"]) == (2, 1, 1, 1)
    assert (result["old"], result["new"]) == (Decimal("0.009"), Decimal("0.0055"))
    assert stored(session, call["id"]).total_cost == Decimal("0.0055")
    unpriced = stored(session, other["id"])
    assert unpriced.price_id is None and unpriced.input_cost is None and unpriced.total_cost is None


def test_range_filters(client, runner, session):
    calls = {
        "before": post_call(client, timestamp="2025-02-28T23:59:59Z", request_id="a"),
        "first-day": post_call(client, timestamp="2025-03-01T00:00:00Z", request_id="b"),
        "last-day": post_call(client, timestamp="2025-03-31T23:59:59.999Z", request_id="c"),
        "after": post_call(client, timestamp="2025-04-01T00:00:00Z", request_id="d"),
        "other-model": post_call(client, timestamp="2025-03-10T00:00:00Z", request_id="e", model="acme-llm-2"),
        "other-company": post_call(client, timestamp="2025-03-10T00:00:00Z", request_id="f", company="c-other"),
    }
    add_price(session, datetime(2025, 1, 1, tzinfo=UTC))
    add_price(session, datetime(2025, 1, 1, tzinfo=UTC), model="acme-llm-2")

    def priced() -> set[str]:
        return {name for name, call in calls.items() if stored(session, call["id"]).price_id is not None}

    result = reprice(runner, "--since", "2025-03-01", "--until", "2025-03-31", "--model", MODEL,
                     "--company", "c-reprice")
    assert (result["examined"], result["newly"]) == (2, 2)
    assert priced() == {"first-day", "last-day"}

    assert reprice(runner, "--company", "c-other")["newly"] == 1
    assert priced() == {"first-day", "last-day", "other-company"}
    assert reprice(runner, "--model", "acme-llm-2")["newly"] == 1
    assert reprice(runner, "--until", "2025-02-28")["newly"] == 1
    assert priced() == {"first-day", "last-day", "other-company", "other-model", "before"}
    assert reprice(runner, "--since", "2025-04-01")["newly"] == 1
    assert priced() == set(calls)


def test_until_before_since_is_refused(runner):
    result = runner.invoke(args=["costs", "reprice", "--since", "2025-03-02", "--until", "2025-03-01"])
    assert result.exit_code == 2 and "--until" in result.output


def test_service_works_in_bounded_batches_and_leaves_catalog_priced_calls_alone(client, session):
    ids = [post_call(client, timestamp=f"2025-03-{day:02d}T08:00:00Z", request_id=f"r{day}")["id"]
           for day in range(1, 8)]
    response = client.post("/api/calls", json={"provider": "openai", "model": "gpt-4o", "inputTokens": 1_000,
                                               "outputTokens": 100, "companyId": "c-reprice",
                                               "timestamp": "2025-03-03T00:00:00Z"})
    assert response.json["totalCost"] == "0.0035"
    add_price(session, datetime(2025, 1, 1, tzinfo=UTC))

    repricer = Repricer(session, RepriceScope(include_priced=True), batch_size=3)
    assert repricer.pending == 8
    batches = list(repricer.batches())
    assert [batch.examined for batch in batches] == [3, 3, 2]
    assert repricer.result.newly_priced == 7 and repricer.result.repriced == 0
    assert repricer.result.old_total == Decimal("0.0035")
    assert repricer.result.new_total == Decimal("0.0035") + 7 * Decimal("0.0045")
    assert all(stored(session, call_id).total_cost == Decimal("0.0045") for call_id in ids)
    assert Repricer(session, RepriceScope(include_priced=True), batch_size=3).run().changed == 0


def test_batch_size_must_be_positive(session):
    with pytest.raises(ValueError):
        Repricer(session, RepriceScope(), batch_size=0)
