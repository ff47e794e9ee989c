"""`flask costs prices set` and `prices import-litellm`: overrides that calls are then priced with,
and `costs reprice --all` bringing stored calls of a company in line with a new override."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.models import LlmCall, ModelPrice
from tests.calls import post_call

LITELLM = {
    "sample_spec": {
        "max_tokens": "LEGACY parameter. set to max_output_tokens if provider specifies it.",
        "input_cost_per_token": 0.0, "output_cost_per_token": 0.0,
        "litellm_provider": "one of https://docs.litellm.ai/docs/providers",
        "mode": "one of: chat, embedding, completion, image_generation, audio_transcription, audio_speech",
    },
    "gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2e-06,
               "output_cost_per_token": 8e-06, "cache_read_input_token_cost": 1e-06,
               "input_cost_per_token_batches": 1e-06, "output_cost_per_token_batches": 4e-06},
    "anthropic/claude-sonnet-4-5": {
        "litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 3e-06,
        "output_cost_per_token": 1.5e-05, "input_cost_per_token_above_200k_tokens": 6e-06,
        "output_cost_per_token_above_200k_tokens": 2.25e-05, "cache_creation_input_token_cost": 3.75e-06,
        "cache_read_input_token_cost": 3e-07},
    "dall-e-3": {"litellm_provider": "openai", "mode": "image_generation"},
}


def invoke(runner, *args: str):
    return runner.invoke(args=["costs", *args])


def overrides(session, **where) -> list[ModelPrice]:
    return list(session.scalars(select(ModelPrice).filter_by(kind="override", **where).order_by(ModelPrice.id)))


def litellm_file(tmp_path, document=LITELLM, name: str = "prices.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document, encoding="utf-8")
    return str(path)


# --- prices set --------------------------------------------------------------------------------

def test_set_then_ingest_uses_the_override(runner, client, session):
    result = invoke(runner, "prices", "set", "--provider", "openai", "--model", "gpt-4o-2024-08-06",
                    "--from", "2026-03-01", "--input", "1", "--output", "2", "--cache-read", "0.5")
    assert result.exit_code == 0, result.output
    [row] = overrides(session)
    assert f"Override {row.id}: openai/gpt-4o (standard) for everyone from 2026-03-01T00:00:00+00:00" in result.stdout
    assert "costs reprice --since 2026-03-01" in result.stdout
    assert (row.input_per_mtok, row.output_per_mtok, row.cache_read_per_mtok) == (
        Decimal("1"), Decimal("2"), Decimal("0.5"))
    call = post_call(client, cachedInputTokens=200)
    assert call["priceId"] == row.id
    assert call["totalCost"] == "0.0019"  # 800 * 1e-6 + 200 * 0.5e-6 + 500 * 2e-6


def test_set_for_a_company_applies_only_to_that_company(runner, client, session):
    result = invoke(runner, "prices", "set", "--provider", "openai", "--model", "gpt-4o", "--from", "2026-03-01",
                    "--company", "comp_1", "--input", "1", "--output", "2")
    assert result.exit_code == 0, result.output
    assert "for company comp_1" in result.stdout
    assert post_call(client)["totalCost"] == "0.002"
    assert post_call(client, company="comp_2")["totalCost"] == "0.0075"  # the catalog's $2.5 / $10


@pytest.mark.parametrize(("args", "message"), [
    (["--input", "-1", "--output", "2"], "must be a non-negative decimal number"),
    (["--input", "abc"], "'abc' is not a decimal number"),
    (["--input", "NaN"], "must be a non-negative decimal number"),
    (["--cache-read", "1"], "an override needs at least an input or an output price"),
    (["--input", "1e-19"], "input_per_mtok must have at most 18 decimal places"),
    (["--input", "1", "--tier", "gold"], "'gold' is not one of"),
    (["--input", "1", "--from", "March"], "'March' does not match"),
])
def test_bad_input_is_exit_code_2_with_a_message(runner, session, args, message):
    base = ["prices", "set", "--provider", "openai", "--model", "gpt-4o", "--from", "2026-03-01"]
    result = invoke(runner, *base, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert overrides(session) == []


# --- prices import-litellm ---------------------------------------------------------------------

def test_import_stores_exact_per_million_prices_per_tier(runner, tmp_path, session):
    path = litellm_file(tmp_path)
    result = invoke(runner, "prices", "import-litellm", path, "--from", "2026-03-01")
    assert result.exit_code == 0, result.output
    assert f"3 prices stored from {path}; 1 entries skipped." in result.stdout
    assert "skipped dall-e-3: mode 'image_generation' is not priced per token" in result.stdout
    assert "sample_spec" not in result.stdout

    rows = {(row.provider, row.model, row.service_tier): row for row in overrides(session)}
    assert set(rows) == {("openai", "gpt-4o", "standard"), ("openai", "gpt-4o", "batch"),
                         ("anthropic", "claude-sonnet-4-5", "standard")}
    gpt = rows["openai", "gpt-4o", "standard"]
    assert (gpt.input_per_mtok, gpt.output_per_mtok, gpt.cache_read_per_mtok) == (
        Decimal("2"), Decimal("8"), Decimal("1"))
    batch = rows["openai", "gpt-4o", "batch"]  # batch rates; the cache-read rate falls back to standard
    assert (batch.input_per_mtok, batch.output_per_mtok, batch.cache_read_per_mtok) == (
        Decimal("1"), Decimal("4"), Decimal("1"))
    sonnet = rows["anthropic", "claude-sonnet-4-5", "standard"]
    assert (sonnet.input_per_mtok, sonnet.output_per_mtok, sonnet.cache_write_per_mtok,
            sonnet.cache_read_per_mtok) == (Decimal("3"), Decimal("15"), Decimal("3.75"), Decimal("0.3"))
    assert sonnet.tiers == {"input_per_mtok": [{"start": 200_000, "price": "6"}],
                            "output_per_mtok": [{"start": 200_000, "price": "22.5"}]}
    assert {row.source for row in rows.values()} == {f"litellm:{path}"}
    assert {row.company_id for row in rows.values()} == {None}


def test_imported_prices_price_calls_by_tier_and_threshold(runner, client, tmp_path, session):
    invoke(runner, "prices", "import-litellm", litellm_file(tmp_path), "--from", "2026-03-01")
    rows = {(row.model, row.service_tier): row.id for row in overrides(session)}

    standard = post_call(client)
    assert (standard["priceId"], standard["totalCost"]) == (rows["gpt-4o", "standard"], "0.006")  # 2e-3 + 4e-3
    batch = post_call(client, serviceTier="batch")
    assert (batch["priceId"], batch["totalCost"]) == (rows["gpt-4o", "batch"], "0.003")  # 1e-3 + 2e-3

    sonnet = {"provider": "anthropic", "model": "claude-sonnet-4-5-20250929", "outputTokens": 1_000}
    below = post_call(client, **sonnet, inputTokens=200_000)
    above = post_call(client, **sonnet, inputTokens=250_000)
    assert below["priceId"] == above["priceId"] == rows["claude-sonnet-4-5", "standard"]
    assert below["totalCost"] == "0.615"  # 200000 * 3e-6 + 1000 * 15e-6
    assert above["totalCost"] == "1.5225"  # every token at the tier: 250000 * 6e-6 + 1000 * 22.5e-6


def test_import_for_a_company(runner, client, tmp_path, session):
    result = invoke(runner, "prices", "import-litellm", litellm_file(tmp_path), "--from", "2026-03-01",
                    "--company", "comp_1")
    assert result.exit_code == 0, result.output
    assert {row.company_id for row in overrides(session)} == {"comp_1"}
    assert post_call(client)["totalCost"] == "0.006"
    assert post_call(client, company="comp_2")["totalCost"] == "0.0075"


@pytest.mark.parametrize(("content", "message"), [
    ("gpt-4o: {input: 2}", "prices.json is not valid JSON"),
    ("[1, 2]", "a LiteLLM price file is a JSON object of model entries"),
])
def test_a_file_that_is_not_a_price_file_is_a_clean_error(runner, tmp_path, session, content, message):
    result = invoke(runner, "prices", "import-litellm", litellm_file(tmp_path, content), "--from", "2026-03-01")
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert overrides(session) == []


def test_a_missing_file_is_exit_code_2(runner, tmp_path):
    result = invoke(runner, "prices", "import-litellm", str(tmp_path / "nope.json"), "--from", "2026-03-01")
    assert result.exit_code == 2 and "No such file or directory" in result.output


# --- reprice after an override -----------------------------------------------------------------

def reprice_counts(runner, *args: str) -> tuple[int, int, int]:
    """(examined, newly priced, re-priced) from the command's report."""
    result = invoke(runner, "reprice", *args)
    assert result.exit_code == 0, result.output

    def count(pattern: str) -> int:
        return int(re.search(pattern, result.stdout).group(1).replace(",", ""))

    return count(r"Examined ([\d,]+)"), count(r"newly priced:\s+([\d,]+)"), count(r"re-priced:\s+([\d,]+)")


def test_reprice_all_applies_a_company_override_to_that_company_only(runner, client, session):
    mine = [post_call(client, requestId=f"m{n}", timestamp=f"2026-03-0{n}T12:00:00+00:00") for n in (2, 3)]
    theirs = post_call(client, company="comp_2", requestId="t1")
    assert {call["totalCost"] for call in [*mine, theirs]} == {"0.0075"}  # the catalog

    result = invoke(runner, "prices", "set", "--provider", "openai", "--model", "gpt-4o", "--from", "2026-03-01",
                    "--company", "comp_1", "--input", "1", "--output", "2")
    assert result.exit_code == 0, result.output
    [override] = overrides(session)

    assert reprice_counts(runner, "--all") == (3, 0, 2)

    def stored(call: dict) -> LlmCall:
        return session.scalars(select(LlmCall).where(LlmCall.id == call["id"])
                               .execution_options(populate_existing=True)).one()

    for call in mine:
        row = stored(call)
        assert (row.price_id, row.input_cost, row.output_cost, row.total_cost) == (
            override.id, Decimal("0.001"), Decimal("0.001"), Decimal("0.002"))
    other = stored(theirs)
    assert (other.price_id, other.total_cost) == (theirs["priceId"], Decimal("0.0075"))

    assert reprice_counts(runner, "--all") == (3, 0, 0)  # a second run changes nothing
    assert [stored(call).total_cost for call in [*mine, theirs]] == [Decimal("0.002")] * 2 + [Decimal("0.0075")]
