"""GET /api/prices and POST /api/prices/overrides, and what an override does to the calls priced after it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.models import ModelPrice
from app.pricing.catalog import CATALOG_SOURCE
from app.pricing.overrides import OverrideError
from tests.calls import post_call

PRICE_KEYS = ["id", "provider", "model", "serviceTier", "kind", "companyId", "validFrom", "windowStart", "windowEnd",
              "windowZone",
              "inputPerMtok",
              "outputPerMtok", "cacheReadPerMtok", "cacheWritePerMtok", "cacheWrite1hPerMtok", "inputAudioPerMtok",
              "cachedAudioPerMtok", "outputAudioPerMtok", "tiers", "source"]


def get_prices(client, **query) -> list[dict]:
    response = client.get("/api/prices", query_string=query)
    assert response.status_code == 200, response.json
    return response.json["prices"]


def post_override(client, expected_status: int = 201, **fields) -> dict:
    body = {"provider": "openai", "model": "gpt-4o", "validFrom": "2026-03-01"} | fields
    response = client.post("/api/prices/overrides", json={k: v for k, v in body.items() if v is not ...})
    assert response.status_code == expected_status, response.json
    return response.json


# --- GET /api/prices ---------------------------------------------------------------------------

@pytest.mark.parametrize(("at", "expected_input"), [
    ("2025-06-09", "10"),
    ("2025-06-10", "2"),
    ("2025-06-09T23:59:59Z", "10"),
    ("2025-06-10T01:00:00+02:00", "10"),  # 23:00 UTC the day before the cut
    ("2025-06-10T00:00:00+00:00", "2"),
])
def test_at_lists_the_row_in_force_with_exact_camel_case_fields(client, at, expected_input):
    [price] = get_prices(client, provider="openai", model="o3", tier="standard", at=at)
    assert list(price) == PRICE_KEYS
    assert price["inputPerMtok"] == expected_input
    assert (price["provider"], price["model"], price["serviceTier"], price["kind"]) == ("openai", "o3", "standard",
                                                                                        "catalog")
    assert price["companyId"] is None and price["cacheWritePerMtok"] is None and price["tiers"] == {}
    assert price["source"] == CATALOG_SOURCE and isinstance(price["id"], int)


def test_without_at_every_dated_row_is_listed_oldest_first(client):
    prices = get_prices(client, provider="openai", model="o3", tier="standard")
    assert [(p["validFrom"], p["inputPerMtok"], p["outputPerMtok"]) for p in prices] == [
        ("1970-01-01T00:00:00+00:00", "10", "40"), ("2025-06-10T00:00:00+00:00", "2", "8")]


def test_tier_filter_and_threshold_tiers_in_camel_case(client):
    batch = get_prices(client, provider="anthropic", model="claude-sonnet-4-5", tier="batch", at="2026-03-01")
    assert [p["serviceTier"] for p in batch] == ["batch"]
    [standard] = get_prices(client, provider="anthropic", model="claude-sonnet-4-5", tier="standard",
                            at="2026-03-01")
    assert standard["tiers"]["inputPerMtok"] == [{"start": 200000, "price": "6"}]
    assert standard["tiers"]["cacheWrite1hPerMtok"] == [{"start": 200000, "price": "12"}]
    assert standard["cacheWrite1hPerMtok"] == "6"
    every_tier = {p["serviceTier"] for p in get_prices(client, provider="openai", model="gpt-4o")}
    assert {"standard", "batch", "priority"} <= every_tier


def test_company_overrides_are_listed_only_for_their_company(client):
    post_override(client, companyId="acme", inputPerMtok="1", outputPerMtok="2")
    post_override(client, inputPerMtok="2", outputPerMtok="4")

    def kinds(at: str = "2026-03-02", **query):
        found = get_prices(client, provider="openai", model="gpt-4o", tier="standard", at=at, **query)
        return sorted(((p["kind"], p["companyId"]) for p in found), key=lambda kind: (kind[0], kind[1] or ""))

    assert kinds() == [("catalog", None), ("override", None)]
    assert kinds(companyId="acme") == [("catalog", None), ("override", None), ("override", "acme")]
    assert kinds(companyId="globex") == [("catalog", None), ("override", None)]
    assert kinds(companyId="acme", at="2026-02-28") == [("catalog", None)]


@pytest.mark.parametrize(("query", "field"), [
    ({"at": "yesterday"}, "at"),
    ({"at": "2025-06-10T00:00:00"}, "at"),  # no offset: ambiguous
    ({"tier": "gold"}, "tier"),
    ({"provider": "openai", "modle": "o3"}, "modle"),
])
def test_bad_query_is_400_naming_the_parameter(client, query, field):
    response = client.get("/api/prices", query_string=query)
    assert response.status_code == 400
    assert field in response.json["errors"]["query"]


# --- POST /api/prices/overrides ---------------------------------------------------------------

def test_post_stores_an_override_and_answers_with_the_row_as_get_lists_it(client, session):
    body = post_override(client, model="gpt-4o-2024-08-06", companyId="acme", serviceTier="batch",
                         validFrom="2026-03-01T09:30:00+02:00", inputPerMtok="1.10", outputPerMtok="4.4",
                         cacheReadPerMtok="0.55", tiers={"inputPerMtok": [{"start": 200000, "price": "2.20"}]})
    assert list(body) == PRICE_KEYS
    assert body | {"id": None} == {
        "id": None, "provider": "openai", "model": "gpt-4o", "serviceTier": "batch", "kind": "override",
        "companyId": "acme", "validFrom": "2026-03-01T07:30:00+00:00", "windowStart": None, "windowEnd": None,
        "windowZone": None, "inputPerMtok": "1.1",
        "outputPerMtok": "4.4", "cacheReadPerMtok": "0.55", "cacheWritePerMtok": None, "cacheWrite1hPerMtok": None,
        "inputAudioPerMtok": None, "cachedAudioPerMtok": None, "outputAudioPerMtok": None,
        "tiers": {"inputPerMtok": [{"start": 200000, "price": "2.2"}]}, "source": "api"}
    row = session.get(ModelPrice, body["id"])
    assert row.input_per_mtok == Decimal("1.1") and row.tiers == {"input_per_mtok": [{"start": 200000,
                                                                                       "price": "2.2"}]}
    [listed] = [p for p in get_prices(client, provider="openai", model="gpt-4o", tier="batch", companyId="acme")
                if p["kind"] == "override"]
    assert listed == body


def test_json_numbers_are_read_digit_for_digit(client, session):
    body = '{"provider": "openai", "model": "gpt-4o", "validFrom": "2026-03-01", "inputPerMtok": 0.1, ' \
           '"outputPerMtok": 1.1e-7, "cacheReadPerMtok": 3}'
    response = client.post("/api/prices/overrides", data=body, content_type="application/json")
    assert response.status_code == 201, response.json
    assert [response.json[k] for k in ("inputPerMtok", "outputPerMtok", "cacheReadPerMtok")] == [
        "0.1", "0.00000011", "3"]
    row = session.get(ModelPrice, response.json["id"])
    assert (row.input_per_mtok, row.output_per_mtok) == (Decimal("0.1"), Decimal("0.00000011"))


def test_same_key_again_updates_in_place_and_answers_200(client):
    first = post_override(client, inputPerMtok="1", outputPerMtok="2")
    again = post_override(client, 200, inputPerMtok="1.5", outputPerMtok="3")
    assert again["id"] == first["id"] and (again["inputPerMtok"], again["outputPerMtok"]) == ("1.5", "3")
    [override] = [p for p in get_prices(client, provider="openai", model="gpt-4o", tier="standard")
                  if p["kind"] == "override"]
    assert (override["inputPerMtok"], override["outputPerMtok"]) == ("1.5", "3")
    other_day = post_override(client, validFrom="2026-04-01", inputPerMtok="1", outputPerMtok="2")
    assert other_day["id"] != first["id"]


@pytest.mark.parametrize(("fields", "field"), [
    ({"validFrom": ...}, "validFrom"),
    ({"provider": ...}, "provider"),
    ({"validFrom": "2026-03-01T00:00:00"}, "validFrom"),  # a datetime needs an offset
    ({"validFrom": "March 1st"}, "validFrom"),
    ({"inputPerMtok": "-1"}, "inputPerMtok"),
    ({"inputPerMtok": -1}, "inputPerMtok"),
    ({"inputPerMtok": "abc"}, "inputPerMtok"),
    ({"inputPerMtok": "1_000"}, "inputPerMtok"),
    ({"inputPerMtok": True}, "inputPerMtok"),
    ({"inputPerMtok": "1e-19"}, "inputPerMtok"),  # more decimals than a money column keeps
    ({"inputPerMtok": "1e12"}, "inputPerMtok"),
    ({"inputPerMtok": ..., "outputPerMtok": ...}, "inputPerMtok"),  # neither input nor output
    ({"serviceTier": "gold"}, "serviceTier"),
    ({"companyId": ""}, "companyId"),
    ({"discount": "10%"}, "discount"),
    ({"tiers": {"cacheReadPerMtok": [{"start": 200000, "price": "1"}]}}, "tiers"),  # no base price
    ({"tiers": {"input_per_mtok": [{"start": 200000, "price": "1"}]}}, "tiers"),
    ({"tiers": {"inputPerMtok": [{"start": 0, "price": "1"}]}}, "tiers"),
    ({"tiers": {"inputPerMtok": [{"start": 200000, "price": "-1"}]}}, "tiers"),
    ({"tiers": {"inputPerMtok": [{"start": 200000, "price": "1"}, {"start": 200000, "price": "2"}]}}, "tiers"),
    ({"tiers": {"inputPerMtok": []}}, "tiers"),
])
def test_bad_body_is_400_naming_the_field(client, session, fields, field):
    body = {"provider": "openai", "model": "gpt-4o", "validFrom": "2026-03-01", "inputPerMtok": "1",
            "outputPerMtok": "2"} | fields
    response = client.post("/api/prices/overrides", json={k: v for k, v in body.items() if v is not ...})
    assert response.status_code == 400, response.json
    assert field in response.json["errors"]["json"], response.json
    assert session.query(ModelPrice).filter_by(kind="override").count() == 0


@pytest.mark.parametrize("body", ['{"provider": "openai", "model": "gpt-4o", "validFrom": "2026-03-01", '
                                  '"inputPerMtok": NaN}', '{"provider": "openai",'])
def test_non_numbers_and_broken_json_are_400(client, body):
    response = client.post("/api/prices/overrides", data=body, content_type="application/json")
    assert response.status_code == 400


def test_a_refusal_of_the_service_is_400_with_its_message(client, monkeypatch):
    def refuse(session, override):
        raise OverrideError("no overrides on Sundays")

    monkeypatch.setattr("app.api.prices.upsert_override", refuse)
    response = client.post("/api/prices/overrides", json={"provider": "openai", "model": "gpt-4o",
                                                          "validFrom": "2026-03-01", "inputPerMtok": "1"})
    assert response.status_code == 400
    assert response.json["message"] == "no overrides on Sundays"


# --- what ingest does with overrides ----------------------------------------------------------

def test_a_call_after_a_posted_override_is_priced_with_it(client):
    override = post_override(client, inputPerMtok="1", outputPerMtok="2")
    call = post_call(client)
    assert call["priceId"] == override["id"]
    assert (call["inputCost"], call["outputCost"], call["totalCost"]) == ("0.001", "0.001", "0.002")


def test_company_override_beats_global_override_beats_catalog(client):
    company = post_override(client, companyId="comp_1", inputPerMtok="0.5", outputPerMtok="1")
    global_ = post_override(client, inputPerMtok="1", outputPerMtok="2")
    mine, theirs = post_call(client, company="comp_1"), post_call(client, company="comp_2")
    assert (mine["priceId"], mine["totalCost"]) == (company["id"], "0.001")  # 1000 * 0.5e-6 + 500 * 1e-6
    assert (theirs["priceId"], theirs["totalCost"]) == (global_["id"], "0.002")
    before = post_call(client, company="comp_1", timestamp="2026-02-28T23:59:59+00:00")
    assert before["totalCost"] == "0.0075"  # the catalog: 1000 * 2.5e-6 + 500 * 10e-6


def test_an_override_starting_after_the_call_is_not_used(client):
    override = post_override(client, validFrom="2026-03-06T02:00:00+02:00", inputPerMtok="1", outputPerMtok="2")
    assert override["validFrom"] == "2026-03-06T00:00:00+00:00"
    earlier = post_call(client, timestamp="2026-03-05T23:59:59+00:00")
    assert earlier["totalCost"] == "0.0075" and earlier["priceId"] != override["id"]
    on_time = post_call(client, timestamp="2026-03-06T00:00:00+00:00")
    assert (on_time["priceId"], on_time["totalCost"]) == (override["id"], "0.002")


def test_tiers_of_an_override_apply_above_the_threshold(client):
    post_override(client, inputPerMtok="1", outputPerMtok="4",
                  tiers={"inputPerMtok": [{"start": 200000, "price": "2"}],
                         "outputPerMtok": [{"start": 200000, "price": "8"}]})
    at_threshold = post_call(client, inputTokens=200_000, outputTokens=1_000)
    above = post_call(client, inputTokens=200_001, outputTokens=1_000)
    assert at_threshold["totalCost"] == "0.204"  # 200000 * 1e-6 + 1000 * 4e-6
    assert above["totalCost"] == "0.408002"  # every token at the tier price: 200001 * 2e-6 + 1000 * 8e-6


def test_a_tier_override_prices_only_calls_on_that_tier(client):
    batch = post_override(client, serviceTier="batch", inputPerMtok="1", outputPerMtok="2")
    on_batch = post_call(client, serviceTier="batch")
    standard = post_call(client)
    assert (on_batch["priceId"], on_batch["totalCost"]) == (batch["id"], "0.002")
    assert standard["totalCost"] == "0.0075"



# --- a price can never lose a call --------------------------------------------------------------

# Prices for 1-hour cache writes and for audio input, without the price of their overlap: genai-prices
# refuses them ("Missing join price for cache_write_1h_tokens and input_audio_tokens").
UNUSABLE = {"inputPerMtok": "1", "outputPerMtok": "2", "cacheWritePerMtok": "3", "cacheWrite1hPerMtok": "4",
            "inputAudioPerMtok": "5"}


def test_an_override_the_cost_engine_cannot_use_is_refused_naming_its_fields(client, session):
    before = session.query(ModelPrice).count()
    refused = post_override(client, 400, **UNUSABLE)
    assert "cost engine" in refused["message"] and "join price" in refused["message"]
    assert set(refused["errors"]["json"]) == {"cacheWrite1hPerMtok", "inputAudioPerMtok"}
    assert session.query(ModelPrice).count() == before
    assert post_call(client)["priced"] is True  # gpt-4o calls still priced (by the catalog)


def test_the_cli_refuses_it_too(runner):
    result = runner.invoke(args=["costs", "prices", "set", "--provider", "openai", "--model", "gpt-4o",
                                 "--from", "2026-03-01", "--input", "1", "--output", "2", "--cache-write", "3", "--cache-write-1h", "4",
                                 "--input-audio", "5"])
    assert result.exit_code == 2 and "cost engine" in result.output


def test_a_stored_price_the_engine_refuses_stores_its_calls_unpriced_with_the_reason(client, session, runner):
    from decimal import Decimal as D
    from datetime import UTC, datetime

    # Written around the checks (by hand, or before they existed): the call is kept, never refused.
    bad = ModelPrice(provider="openai", model="gpt-4o", kind="override", valid_from=datetime(2026, 3, 1, tzinfo=UTC),
                     input_per_mtok=D(1), output_per_mtok=D(2), cache_write_per_mtok=D(3),
                     cache_write_1h_per_mtok=D(4), input_audio_per_mtok=D(5), source="test")
    session.add(bad)
    session.commit()
    call = post_call(client)
    assert call["priced"] is False and call["totalCost"] is None
    assert f"price {bad.id} refused by the cost engine" in call["unpricedReason"]
    listed = client.get("/api/costs?startDate=2026-03-01&endDate=2026-03-31").json["records"]
    assert listed[0]["unpricedReason"] == call["unpricedReason"]
    report = runner.invoke(args=["costs", "reprice", "--since", "2026-03-01", "--until", "2026-03-31"])
    assert report.exit_code == 0 and "refused by the cost engine" in report.output, report.output


def test_an_unknown_model_says_why_it_is_unpriced(client):
    call = post_call(client, model="no-such-model-7")
    assert call["priced"] is False
    assert call["unpricedReason"] == "no price for openai/no-such-model-7 (standard) at the call's time"


# --- who changed a price ------------------------------------------------------------------------

def test_every_price_write_is_kept_with_who_and_what(client, make_client, runner):
    first = post_override(client, model="gpt-4o", companyId="acme", inputPerMtok="1", outputPerMtok="2")
    post_override(client, 200, model="gpt-4o", companyId="acme", inputPerMtok="1.5", outputPerMtok="2")
    changes = client.get("/api/prices/history?provider=openai&model=gpt-4o&companyId=acme").json["changes"]
    update, insert = changes[0], changes[1]
    assert (insert["action"], update["action"]) == ("insert", "update")
    assert insert["priceId"] == update["priceId"] == first["id"]
    assert update["actor"].startswith("api key tests platform")
    # Exact, as every price the API gives (a JSON number here would have gone through a float).
    assert (update["old"]["input_per_mtok"], update["new"]["input_per_mtok"]) == (
        "1.000000000000000000", "1.500000000000000000")
    made = runner.invoke(args=["costs", "prices", "set", "--provider", "openai", "--model", "gpt-4o", "--from",
                               "2026-04-01", "--input", "3", "--output", "4"])
    assert made.exit_code == 0, made.output
    shown = runner.invoke(args=["costs", "prices", "history", "--model", "gpt-4o"])
    assert shown.exit_code == 0 and "cli " in shown.output and "input_per_mtok:  -> 3" in shown.output
    # Another company's key sees the global prices' history and its own, never acme's overrides.
    other = make_client("globex", "read").get("/api/prices/history?model=gpt-4o").json["changes"]
    assert other and all(change["companyId"] in (None, "globex") for change in other)


def test_the_history_cannot_be_rewritten(session):
    from sqlalchemy import text
    import sqlalchemy.exc

    session.execute(text("UPDATE model_price SET source = source WHERE id = (SELECT min(id) FROM model_price)"))
    with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"):
        with session.begin_nested():
            session.execute(text("DELETE FROM price_change"))
