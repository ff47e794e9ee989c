"""What the Python client reads from the SDKs' real response types, and sends: built with the SDKs'
own models (`model_validate` of the providers' JSON), and got from their async clients pointed at
the local providers (tests/llm_fakes.py) — streams, stream managers, failures. What is sent is
caught by a stand-in of the ledger (tests/ledger_double.py); that the ledger stores and prices it
so is tests/test_client_ledger.py's."""

from __future__ import annotations

import asyncio

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from ledger_client import LedgerClient, read
from tests import llm_fakes
from tests.ledger_double import LedgerDouble


@pytest.fixture
def double():
    double = LedgerDouble().start()
    yield double
    double.stop()


@pytest.fixture(scope="module")
def providers():
    fake = llm_fakes.FakeProviders().start()
    yield fake
    fake.stop()


def sent(client: LedgerClient, double: LedgerDouble) -> list[dict]:
    assert client.flush(10)
    return [call for body in double.bodies for call in body["calls"]]


def test_the_sdks_own_objects_are_read_as_the_ledger_takes_them():
    chat = openai.types.chat.ChatCompletion.model_validate(llm_fakes.chat_completion("gpt-4o-2024-08-06"))
    responses = openai.types.responses.Response.model_validate(llm_fakes.response("o3-2025-04-16"))
    message = anthropic.types.Message.model_validate(llm_fakes.message(llm_fakes.ANTHROPIC_MODEL))
    gemini = genai_types.GenerateContentResponse.model_validate(llm_fakes.generate_content("gemini-2.5-flash"))
    assert [(r.provider, r.model, r.usage, r.usage_format, r.service_tier) for r in map(read, (
        chat, responses, message, gemini))] == [
        ("openai", "gpt-4o-2024-08-06", llm_fakes.OPENAI_CHAT_USAGE, "openai-chat", "default"),
        ("openai", "o3-2025-04-16", llm_fakes.OPENAI_RESPONSES_USAGE, "openai-responses", "default"),
        ("anthropic", llm_fakes.ANTHROPIC_MODEL, llm_fakes.ANTHROPIC_USAGE, "anthropic", "standard"),
        ("google", "gemini-2.5-flash", llm_fakes.GEMINI_USAGE, "gemini", None)]
    # google-genai's fields are snake_case; the ledger reads the REST API's camelCase.
    assert gemini.usage_metadata.model_dump(exclude_none=True)["prompt_token_count"] == 10000
    assert read(gemini).usage["promptTokensDetails"] == [{"modality": "TEXT", "tokenCount": 10000}]
    # The same responses as the REST APIs' JSON, read as dicts.
    for plain in (llm_fakes.chat_completion("gpt-4o"), llm_fakes.response("o3"), llm_fakes.message("claude-x"),
                  llm_fakes.generate_content("gemini-2.5-flash")):
        assert read(plain).usage


def test_what_the_response_says_of_tiers_and_failures():
    fast = anthropic.types.Message.model_validate(
        {**llm_fakes.message("claude-opus-4-6"), "usage": {**llm_fakes.ANTHROPIC_USAGE, "speed": "fast"}})
    assert read(fast).service_tier == "fast"
    scale = openai.types.chat.ChatCompletion.model_validate({**llm_fakes.chat_completion("gpt-4o"),
                                                             "service_tier": "scale"})
    assert read(scale).service_tier is None  # a tier the ledger has no price for: not sent
    failed = openai.types.responses.Response.model_validate({
        **llm_fakes.response("o3", status="failed"), "error": {"code": "server_error", "message": "it broke"}})
    assert (read(failed).success, read(failed).error) == (False, "it broke")
    without_usage = openai.types.chat.ChatCompletion.model_validate({**llm_fakes.chat_completion("gpt-4o"),
                                                                     "usage": None})
    assert read(without_usage).usage is None


def test_async_clients_streams_and_stream_managers(double, providers):
    client = LedgerClient(double.url, "key", flush_interval=0.01)

    async def main() -> None:
        oai = openai.AsyncOpenAI(base_url=providers.url + "/v1", api_key="sk-test", max_retries=0)
        claude = anthropic.AsyncAnthropic(base_url=providers.url, api_key="sk-ant", max_retries=0)
        gemini = genai.Client(api_key="test", http_options=genai_types.HttpOptions(base_url=providers.url)).aio
        create = client.timed(user="async-create")(oai.chat.completions.create)
        assert (await create(model="gpt-4o", messages=[])).usage.completion_tokens == 678
        stream = await client.timed(user="async-stream")(oai.chat.completions.create)(
            model="gpt-4o", messages=[], stream=True, stream_options={"include_usage": True})
        assert len([chunk async for chunk in stream]) == 5
        async with client.track_stream(claude.messages.stream(model=llm_fakes.ANTHROPIC_MODEL, max_tokens=10,
                                                              messages=[]), user="async-manager") as events:
            assert "".join([text async for text in events.text_stream]) == "Hello!"
        chunks = await gemini.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")
        async for _ in client.track_stream(chunks, user="async-gemini"):
            pass
        with pytest.raises(anthropic.RateLimitError):
            await client.timed(user="async-failed")(claude.messages.create)(model="fail-429", max_tokens=1,
                                                                            messages=[])

    asyncio.run(main())
    calls = {call["userId"]: call for call in sent(client, double)}
    assert {user: (call["provider"], call["model"], call.get("usage", {}).get(key)) for user, call, key in (
        (user, calls[user], key) for user, key in (
            ("async-create", "prompt_tokens"), ("async-stream", "prompt_tokens"), ("async-manager", "output_tokens"),
            ("async-gemini", "candidatesTokenCount"), ("async-failed", "-")))} == {
        "async-create": ("openai", llm_fakes.OPENAI_CHAT_MODEL, 12345),
        "async-stream": ("openai", llm_fakes.OPENAI_CHAT_MODEL, 12345),
        "async-manager": ("anthropic", llm_fakes.ANTHROPIC_MODEL, 4000),
        "async-gemini": ("google", "gemini-2.5-flash", 1500),
        "async-failed": ("anthropic", "fail-429", None)}
    assert calls["async-failed"]["success"] is False and "RateLimitError" in calls["async-failed"]["error"]
    assert all(call["durationMs"] >= 0 for call in calls.values())
    client.close(1)


def test_a_stream_that_fails_midway_is_a_failed_call_and_the_error_reaches_the_caller(double):
    client = LedgerClient(double.url, "key", flush_interval=0.01)
    events = [anthropic.types.RawMessageStartEvent.model_validate(llm_fakes.message_events(llm_fakes.ANTHROPIC_MODEL)[0][1])]

    def broken():
        yield from events
        raise anthropic.APIConnectionError(request=None)  # the connection dropped mid-stream

    with pytest.raises(anthropic.APIConnectionError):
        for _ in client.track_stream(broken(), user="midway"):
            pass
    [call] = sent(client, double)
    assert (call["success"], call["model"], call["usage"]["input_tokens"]) == (False, llm_fakes.ANTHROPIC_MODEL, 20000)
    assert call["error"].startswith("APIConnectionError")
    client.close(1)


def test_timed_keeps_the_callers_exception_and_result_as_they_are(double):
    client = LedgerClient(double.url, "key", flush_interval=0.01)
    error = KeyError("mine")

    @client.timed(provider="openai", model="gpt-4o")
    def failing():
        raise error

    with pytest.raises(KeyError) as raised:
        failing()
    assert raised.value is error and failing.__name__ == "failing"
    response = openai.types.chat.ChatCompletion.model_validate(llm_fakes.chat_completion("gpt-4o"))
    assert client.timed()(lambda: response)() is response
    with client.timed() as call:
        assert call.track(response) is response
    calls = sent(client, double)
    assert [call["success"] for call in calls] == [False, True, True]
    assert calls[0]["error"] == "KeyError: 'mine'" and (calls[0]["provider"], calls[0]["model"]) == ("openai", "gpt-4o")
    client.close(1)


def test_only_what_the_sdk_raised_is_a_failed_call(double, providers):
    client = LedgerClient(double.url, "key", flush_interval=0.01)
    oai = openai.OpenAI(base_url=providers.url + "/v1", api_key="sk-test", max_retries=0)
    with pytest.raises(ValueError):
        with client.timed(user="raised-after") as call:
            call.track(oai.chat.completions.create(model="gpt-4o", messages=[]))
            raise ValueError("the caller's own")  # after the tokens were spent
    with client.timed(user="consumed-after") as call:
        stream = call.track(oai.chat.completions.create(model="gpt-4o", messages=[], stream=True,
                                                        stream_options={"include_usage": True}))
    assert len(list(stream)) == 5  # read after the block: recorded when it ends, complete
    response = oai.chat.completions.create(model="gpt-4o", messages=[])
    assert client.track_stream(response, user="not-a-stream") is response  # recorded as the response it is
    calls = {call["userId"]: call for call in sent(client, double)}
    assert set(calls) == {"raised-after", "consumed-after", "not-a-stream"}
    assert all(call["success"] and call["usage"]["prompt_tokens"] == 12345 and "streamIncomplete" not in
               call.get("metadata", {}) for call in calls.values())
    client.close(1)
