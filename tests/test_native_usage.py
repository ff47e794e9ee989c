"""POST /api/calls with a provider's own `usage` object: the token columns stored, and costs equal to
`genai-prices`' own calculation on the same usage."""

from __future__ import annotations

import json

from datetime import datetime
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price
from sqlalchemy import select

from app.models import LlmCall

TS = "2026-03-05T10:00:00+00:00"
TOKEN_COLUMNS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens",
                 "output_tokens", "reasoning_tokens", "input_audio_tokens", "output_audio_tokens")

CASES = {
    "openai-chat": (
        "openai", "o4-mini",
        {"prompt_tokens": 1_200, "completion_tokens": 800, "total_tokens": 2_000,
         "prompt_tokens_details": {"cached_tokens": 256, "audio_tokens": 0},
         "completion_tokens_details": {"reasoning_tokens": 600, "audio_tokens": 0}},
        # prompt_tokens already counts the cached ones; completion_tokens the reasoning ones.
        {"input_tokens": 1_200, "cached_input_tokens": 256, "output_tokens": 800, "reasoning_tokens": 600},
    ),
    "openai-responses": (
        "openai", "gpt-4.1-mini",
        {"input_tokens": 5_000, "output_tokens": 1_500, "total_tokens": 6_500,
         "input_tokens_details": {"cached_tokens": 4_096}, "output_tokens_details": {"reasoning_tokens": 1_024}},
        {"input_tokens": 5_000, "cached_input_tokens": 4_096, "output_tokens": 1_500, "reasoning_tokens": 1_024},
    ),
    "anthropic": (
        "anthropic", "claude-sonnet-4-5-20250929",
        {"input_tokens": 50, "cache_read_input_tokens": 10_000, "cache_creation_input_tokens": 3_000,
         "cache_creation": {"ephemeral_5m_input_tokens": 1_000, "ephemeral_1h_input_tokens": 2_000},
         "output_tokens": 700},
        # Anthropic's input_tokens leaves out cache reads and writes: ours is 50 + 10,000 + 3,000.
        {"input_tokens": 13_050, "cached_input_tokens": 10_000, "cache_write_tokens": 3_000,
         "cache_write_1h_tokens": 2_000, "output_tokens": 700},
    ),
    "gemini": (
        "google", "gemini-2.5-flash",
        {"promptTokenCount": 8_000, "candidatesTokenCount": 400, "thoughtsTokenCount": 1_200,
         "cachedContentTokenCount": 2_048, "totalTokenCount": 9_600},
        # candidatesTokenCount leaves out thinking: our output is 400 + 1,200, of which 1,200 reasoning.
        {"input_tokens": 8_000, "cached_input_tokens": 2_048, "output_tokens": 1_600, "reasoning_tokens": 1_200},
    ),
}
# The same usage in the catalog's own terms, written out independently of our mapping.
GENAI_USAGE = {
    "openai-chat": Usage(input_tokens=1_200, cache_read_tokens=256, output_tokens=800),
    "openai-responses": Usage(input_tokens=5_000, cache_read_tokens=4_096, output_tokens=1_500),
    "anthropic": Usage(input_tokens=13_050, cache_read_tokens=10_000, cache_write_tokens=3_000,
                       cache_write_1h_tokens=2_000, output_tokens=700),
    "gemini": Usage(input_tokens=8_000, cache_read_tokens=2_048, output_tokens=1_600),
}


def post(client, **fields):
    body = {"provider": "openai", "model": "gpt-4o", "companyId": "comp_1", "timestamp": TS} | fields
    return client.post("/api/calls", json=body)


def stored(session, call_id: int) -> LlmCall:
    return session.scalars(select(LlmCall).where(LlmCall.id == call_id)).one()


@pytest.mark.parametrize("fmt", list(CASES))
@pytest.mark.parametrize("explicit", [False, True])
def test_native_usage_is_stored_as_our_token_columns_and_priced_like_the_catalog(client, session, fmt, explicit):
    provider, model, usage, expected = CASES[fmt]
    extra = {"usageFormat": fmt} if explicit else {}
    response = post(client, provider=provider, model=model, usage=usage, **extra)
    assert response.status_code == 201, response.json
    body = response.json
    row = stored(session, body["id"])
    assert {column: getattr(row, column) for column in TOKEN_COLUMNS} == dict.fromkeys(TOKEN_COLUMNS, 0) | expected
    assert body["totalTokens"] == expected["input_tokens"] + expected["output_tokens"]

    theirs = calc_price(GENAI_USAGE[fmt], model, provider_id=provider, genai_request_timestamp=datetime.fromisoformat(TS))
    assert (row.input_cost, row.output_cost, row.total_cost) == (
        theirs.input_price, theirs.output_price, theirs.total_price)
    assert Decimal(body["totalCost"]) == theirs.total_price


def test_anthropic_cache_writes_are_billed_at_their_own_rates(client):
    """Worked by hand for claude-sonnet-4-5 ($3 input, $0.30 cache read, $3.75 5-minute and $6 one-hour
    cache writes, $15 output per million tokens)."""
    _, model, usage, _ = CASES["anthropic"]
    body = post(client, provider="anthropic", model=model, usage=usage).json
    # 50 * 3 + 10,000 * 0.3 + 1,000 * 3.75 + 2,000 * 6 = 18,900 micro-dollars of input; 700 * 15 of output.
    assert (body["inputCost"], body["outputCost"], body["totalCost"]) == ("0.0189", "0.0105", "0.0294")


def test_gemini_thinking_is_billed_as_output(client):
    _, model, usage, _ = CASES["gemini"]
    body = post(client, provider="gemini", model=model, usage=usage).json  # "gemini" spells google
    # (8,000 - 2,048) * 0.3 + 2,048 * 0.03 micro-dollars of input; (400 + 1,200) * 2.5 of output.
    assert (body["inputCost"], body["outputCost"]) == ("0.00184704", "0.004")


@pytest.mark.parametrize("explicit", [False, True])
def test_google_genai_sdk_usage_dumped_in_snake_case_is_read_like_the_rest_form(client, session, explicit):
    """google-genai's own type, dumped as a service would (`usage_metadata.model_dump()`): snake_case,
    None for absent fields, details as a list of modality counts."""
    from google.genai import types

    _, model, rest_form, expected = CASES["gemini"]
    usage = types.GenerateContentResponseUsageMetadata(
        prompt_token_count=8_000, candidates_token_count=400, thoughts_token_count=1_200,
        cached_content_token_count=2_048, total_token_count=9_600,
        prompt_tokens_details=[types.ModalityTokenCount(modality=types.MediaModality.TEXT, token_count=8_000)])
    dumped = json.loads(json.dumps(usage.model_dump(), default=str))  # as it travels: JSON
    assert "prompt_token_count" in dumped and dumped["tool_use_prompt_token_count"] is None
    extra = {"usageFormat": "gemini"} if explicit else {}
    body = post(client, provider="google", model=model, usage=dumped, **extra)
    assert body.status_code == 201, body.json
    reference = post(client, provider="google", model=model, usage=rest_form, requestId="rest-form").json
    row = stored(session, body.json["id"])
    assert {column: getattr(row, column) for column in TOKEN_COLUMNS} == dict.fromkeys(TOKEN_COLUMNS, 0) | expected
    assert (body.json["inputCost"], body.json["outputCost"], body.json["totalCost"]) == (
        reference["inputCost"], reference["outputCost"], reference["totalCost"])


def test_gemini_usage_in_both_spellings_at_once_is_refused(client, session):
    usage = {"promptTokenCount": 10, "prompt_token_count": 12, "candidatesTokenCount": 5}
    response = post(client, provider="google", model="gemini-2.5-flash", usage=usage)
    assert response.status_code == 400 and "twice" in response.json["errors"]["json"]["usage"][0]


def test_an_explicit_format_reads_what_detection_cannot(client, session):
    usage = {"input_tokens": 1_000, "output_tokens": 200}  # Anthropic or OpenAI Responses? The provider can't say.
    undetected = post(client, provider="my-gateway", model="house-model", usage=usage)
    assert undetected.status_code == 400
    assert "usageFormat" in undetected.json["errors"]["json"]["usage"][0]
    response = post(client, provider="my-gateway", model="house-model", usage=usage, usageFormat="openai-responses")
    assert response.status_code == 201, response.json
    assert (response.json["inputTokens"], response.json["outputTokens"]) == (1_000, 200)


@pytest.mark.parametrize(("fields", "field"), [
    ({"usage": {"tokens": 10}}, "usage"),  # no format recognisable
    ({"usage": {"prompt_tokens": "1000", "completion_tokens": 5}}, "usage"),
    ({"usage": {"prompt_tokens": 10.5, "completion_tokens": 5}}, "usage"),
    ({"usage": {"prompt_tokens": -1, "completion_tokens": 5}}, "usage"),
    ({"usage": {"prompt_tokens": 10}}, "usage"),  # completion_tokens missing
    ({"usage": {"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 11}}},
     "usage"),  # more cached tokens than prompt tokens
    ({"usage": {"prompt_tokens": 10**13, "completion_tokens": 5}}, "usage"),
    ({"usage": [1, 2]}, "usage"),
    ({"usage": {"prompt_tokens": 10, "completion_tokens": 5}, "usageFormat": "gemini"}, "usage"),
    ({"usage": {"prompt_tokens": 10, "completion_tokens": 5}, "inputTokens": 10}, "usage"),
    ({"usage": {"prompt_tokens": 10, "completion_tokens": 5}, "usageFormat": "openai"}, "usageFormat"),
    ({}, "inputTokens"),  # neither usage nor token counts
])
def test_bad_usage_is_400_naming_the_field(client, session, fields, field):
    response = post(client, **fields)
    assert response.status_code == 400, response.json
    assert field in response.json["errors"]["json"], response.json
    assert session.scalar(select(LlmCall.id).limit(1)) is None


def test_usage_in_a_batch(client):
    _, model, usage, expected = CASES["gemini"]
    response = client.post("/api/calls/batch", json={"calls": [
        {"provider": "google", "model": model, "companyId": "comp_1", "timestamp": TS, "usage": usage},
        {"provider": "openai", "model": "gpt-4o", "companyId": "comp_1", "timestamp": TS, "inputTokens": 10,
         "outputTokens": 5},
    ]})
    assert response.status_code == 200, response.json
    first = response.json["calls"][0]
    assert (first["outputTokens"], first["reasoningTokens"]) == (expected["output_tokens"], expected["reasoning_tokens"])
