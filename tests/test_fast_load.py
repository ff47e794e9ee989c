"""FastLoad loads a call exactly as CallInSchema does, or leaves it to the schema: checked on
random calls, valid and not, and through the batch schema (values and errors alike)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, validate

from app.schemas.calls import CallBatchInSchema, CallInSchema, _fast_calls
from app.schemas.fast_load import FastLoad

SCHEMA = CallInSchema()
FAST = _fast_calls(SCHEMA)


class StockBatch(Schema):
    """The batch schema as marshmallow alone would load it."""

    calls = fields.List(fields.Nested(CallInSchema), required=True, validate=validate.Length(min=1, max=10_000))


def odd_values() -> st.SearchStrategy:
    return st.one_of(st.none(), st.booleans(), st.integers(-5, 2**40), st.just(10**12 + 1), st.just(2**31),
                     st.floats(allow_nan=False, width=32), st.just(1.0), st.just(Decimal("1.5")), st.text(max_size=3),
                     st.just(""), st.just("x" * 501), st.just("y" * 10_001), st.just([]), st.just({}),
                     st.just({"a": 1}), st.just({1: "a"}), st.sampled_from(["2026-03-05T10:00:00", "yesterday",
                                                                             "2999-01-01T00:00:00Z", "batch", "BATCH"]))


TOKENS = ["inputTokens", "outputTokens", "cachedInputTokens", "cacheWriteTokens", "cacheWrite1hTokens",
          "inputAudioTokens", "cachedAudioTokens", "reasoningTokens", "outputAudioTokens"]
good = {
    "provider": st.sampled_from(["openai", "anthropic", "acme", "g" * 64]),
    "model": st.sampled_from(["gpt-4o", "claude-sonnet-4-5", "m" * 200, "x"]),
    # Consistent parts: input ≥ 20,000 holds every part; write ≥ 3,000 ≥ its 1-hour part; audio ≥ 100 ≥
    # cached audio ≤ cached input; output ≥ 2,000 ≥ reasoning + audio out.
    "inputTokens": st.integers(20_000, 10**12), "outputTokens": st.integers(2_000, 10**12),
    "cachedInputTokens": st.integers(100, 5_000), "cacheWriteTokens": st.integers(3_000, 5_000),
    "cacheWrite1hTokens": st.integers(0, 3_000), "inputAudioTokens": st.integers(100, 200),
    "cachedAudioTokens": st.integers(0, 100), "reasoningTokens": st.integers(0, 1_000),
    "outputAudioTokens": st.integers(0, 100),
    "serviceTier": st.sampled_from(["standard", "default", "batch", "flex", "priority", "fast", "auto"]),
    "durationMs": st.one_of(st.none(), st.integers(0, 2**31 - 1)),
    "success": st.booleans(),
    "error": st.one_of(st.none(), st.text(max_size=20)),
    "userId": st.one_of(st.none(), st.text(min_size=1, max_size=5)),
    "endpoint": st.one_of(st.none(), st.just("/chat")),
    "companyId": st.sampled_from(["c1", "default"]),
    "assistantId": st.one_of(st.none(), st.just("a1")),
    "assistantName": st.one_of(st.none(), st.just("Helper")),
    "timestamp": st.one_of(st.none(), st.sampled_from(["2026-03-05T10:00:00+00:00", "2026-03-05T11:00:00.5+01:00",
                                                        "2026-03-05T10:00:00Z"])),
    "requestId": st.one_of(st.none(), st.just("r1")),
    "metadata": st.sampled_from([{}, {"project": "x"}, {"n": 1}]),
    "usage": st.sampled_from([{"prompt_tokens": 10, "completion_tokens": 2}, {"input_tokens": 3, "output_tokens": 1}]),
}


@st.composite
def call_dicts(draw) -> dict:
    """A call whose fields are valid or left out, then (most of the time) one field made odd: so
    that a value only one of the two paths would accept is not hidden behind another bad one."""
    call = {}
    for key, strategy in good.items():
        leave_out = draw(st.integers(0, 9)) == 0 and key not in ("provider", "model", "inputTokens", "outputTokens")
        if (key == "usage" and draw(st.integers(0, 4))) or leave_out:
            continue
        call[key] = draw(strategy)
    if "usage" in call:
        for key in TOKENS:
            call.pop(key, None)
    change = draw(st.integers(0, 9))
    if change < 6:
        call[draw(st.sampled_from(sorted(good)))] = draw(odd_values())
    elif change == 6:
        call.pop(draw(st.sampled_from(sorted(call))), None)
    elif change == 7:
        call["bogus"] = 1
    return call


def outcome(load, value):
    try:
        return ("ok", load(value))
    except ValidationError as error:
        return ("error", error.messages)


@settings(max_examples=1_000, deadline=None)
@given(call=call_dicts())
def test_fast_load_gives_what_the_schema_gives_or_defers(call):
    fast = FAST.load(call)
    slow = outcome(SCHEMA.load, call)
    if fast is not None:
        assert slow == ("ok", fast)
    else:  # deferred: the schema refuses it, or it is a provider's usage object (which the schema may turn down)
        assert slow[0] == "error" or "usage" in call, call


@settings(max_examples=150, deadline=None)
@given(calls=st.lists(call_dicts(), min_size=1, max_size=6))
def test_the_batch_schema_loads_as_marshmallow_alone_does(calls):
    assert outcome(CallBatchInSchema().load, {"calls": calls}) == outcome(StockBatch().load, {"calls": calls})


def test_most_plain_calls_take_the_fast_path():
    call = {"provider": "openai", "model": "gpt-4o", "inputTokens": 1200, "outputTokens": 300,
            "cachedInputTokens": 1024, "durationMs": 840, "success": True, "error": None, "companyId": "c",
            "userId": "u", "endpoint": "/chat", "assistantId": "a", "assistantName": "A",
            "timestamp": "2026-03-05T10:00:00+00:00", "requestId": "r", "metadata": {"k": "v"}}
    assert FAST.load(call) == SCHEMA.load(call)


def test_a_schema_whose_hooks_fast_load_was_not_told_of_is_refused():
    with pytest.raises(TypeError, match="hooks"):
        FastLoad(SCHEMA)
