"""A local stand-in for the LLM providers' APIs, for the client tests: the real SDKs (openai,
anthropic, google-genai) are pointed at it and parse its answers into their real response types —
JSON answers and SSE streams as the providers send them, with the usages of README's worked
examples. No network: it listens on 127.0.0.1.

A request whose model is `fail-429` (`fail-500`) is answered 429 (500) with the provider's error
body, so that the SDK raises its own exception.
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler

from tests.local_http import LocalServer, send_json

# README's worked examples (gpt-4o, claude-sonnet-4-5 above 200k input, gemini-2.5-flash) and an o3 Responses call.
OPENAI_CHAT_USAGE = {"prompt_tokens": 12345, "completion_tokens": 678, "total_tokens": 13023,
                     "prompt_tokens_details": {"cached_tokens": 4096, "audio_tokens": 0},
                     "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                   "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
OPENAI_RESPONSES_USAGE = {"input_tokens": 2000, "input_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 256},
                          "output_tokens": 900, "output_tokens_details": {"reasoning_tokens": 640},
                          "total_tokens": 2900}
ANTHROPIC_USAGE = {"input_tokens": 20000, "cache_read_input_tokens": 150000, "cache_creation_input_tokens": 80000,
                   "cache_creation": {"ephemeral_1h_input_tokens": 20000, "ephemeral_5m_input_tokens": 60000},
                   "output_tokens": 4000, "service_tier": "standard"}
GEMINI_USAGE = {"promptTokenCount": 10000, "candidatesTokenCount": 1500, "thoughtsTokenCount": 500,
                "cachedContentTokenCount": 4000, "totalTokenCount": 12000,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10000}],
                "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 4000}],
                "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 1500}]}

OPENAI_CHAT_MODEL = "gpt-4o-2024-08-06"
OPENAI_RESPONSES_MODEL = "o3-2025-04-16"
ANTHROPIC_MODEL = "claude-sonnet-4-5-20250929"
GEMINI_MODEL = "gemini-2.5-flash"


def chat_completion(model: str) -> dict:
    return {"id": "chatcmpl-fake1", "object": "chat.completion", "created": 1764000000, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!", "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": OPENAI_CHAT_USAGE, "service_tier": "default", "system_fingerprint": "fp_fake"}


def chat_chunks(model: str, include_usage: bool) -> list[dict]:
    base = {"id": "chatcmpl-fake2", "object": "chat.completion.chunk", "created": 1764000000, "model": model,
            "service_tier": "default", "system_fingerprint": "fp_fake"}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
              {**base, "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]},
              {**base, "choices": [{"index": 0, "delta": {"content": "lo!"}, "finish_reason": None}]},
              {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]
    if include_usage:
        chunks = [{**chunk, "usage": None} for chunk in chunks] + [{**base, "choices": [], "usage": OPENAI_CHAT_USAGE}]
    return chunks


def response(model: str, *, status: str = "completed", usage: dict | None = OPENAI_RESPONSES_USAGE) -> dict:
    return {"id": "resp_fake1", "object": "response", "created_at": 1764000000, "status": status, "model": model,
            "error": None, "incomplete_details": None, "instructions": None, "max_output_tokens": None,
            "metadata": {}, "parallel_tool_calls": True, "previous_response_id": None, "reasoning": {"effort": "medium"},
            "service_tier": "default", "temperature": 1.0, "text": {"format": {"type": "text"}},
            "tool_choice": "auto", "tools": [], "top_p": 1.0, "truncation": "disabled", "user": None,
            "output": [] if status != "completed" else [
                {"type": "message", "id": "msg_fake1", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Hello!", "annotations": []}]}],
            "usage": usage}


def response_events(model: str) -> list[tuple[str, dict]]:
    started = response(model, status="in_progress", usage=None)
    item = {"type": "message", "id": "msg_fake1", "status": "in_progress", "role": "assistant", "content": []}
    events = [("response.created", {"response": started}),
              ("response.in_progress", {"response": started}),
              ("response.output_item.added", {"output_index": 0, "item": item}),
              ("response.content_part.added", {"item_id": "msg_fake1", "output_index": 0, "content_index": 0,
                                               "part": {"type": "output_text", "text": "", "annotations": []}}),
              ("response.output_text.delta", {"item_id": "msg_fake1", "output_index": 0, "content_index": 0,
                                              "delta": "Hello!", "logprobs": []}),
              ("response.output_text.done", {"item_id": "msg_fake1", "output_index": 0, "content_index": 0,
                                             "text": "Hello!", "logprobs": []}),
              ("response.content_part.done", {"item_id": "msg_fake1", "output_index": 0, "content_index": 0,
                                              "part": {"type": "output_text", "text": "Hello!", "annotations": []}}),
              ("response.output_item.done", {"output_index": 0, "item": response(model)["output"][0]}),
              ("response.completed", {"response": response(model)})]
    return [(kind, {"type": kind, "sequence_number": n, **data}) for n, (kind, data) in enumerate(events)]


def message(model: str) -> dict:
    return {"id": "msg_fake1", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": "Hello!"}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": ANTHROPIC_USAGE}


def message_events(model: str) -> list[tuple[str, dict]]:
    start_usage = {**ANTHROPIC_USAGE, "output_tokens": 1}
    return [("message_start", {"type": "message_start", "message": {**message(model), "content": [],
                                                                    "stop_reason": None, "usage": start_usage}}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("ping", {"type": "ping"}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": "Hello!"}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]}}),
            ("message_stop", {"type": "message_stop"})]


def generate_content(model: str, usage: dict | None = GEMINI_USAGE, text: str = "Hello!") -> dict:
    answer = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP",
                              "index": 0}],
              "modelVersion": model, "responseId": "gemini-fake1"}
    if usage is not None:
        answer["usageMetadata"] = usage
    return answer


def gemini_chunks(model: str) -> list[dict]:
    partial = {"promptTokenCount": GEMINI_USAGE["promptTokenCount"], "totalTokenCount": GEMINI_USAGE["promptTokenCount"]}
    first = generate_content(model, partial, "Hel")
    del first["candidates"][0]["finishReason"]
    return [first, generate_content(model, GEMINI_USAGE, "lo!")]


class FakeProviders(LocalServer):
    """OpenAI (`/v1/chat/completions`, `/v1/responses`), Anthropic (`/v1/messages`) and Gemini
    (`/v1[beta]/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`) on one local port."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[tuple[str, dict]] = []

    def handle_post(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        body = json.loads(raw or b"{}")
        self.requests.append((handler.path, body))
        self._answer(handler, handler.path, body)

    def _answer(self, handler: BaseHTTPRequestHandler, path: str, body: dict) -> None:
        gemini = re.match(r"^/v1(?:beta)?/models/([^:]+):(generateContent|streamGenerateContent)", path)
        model = gemini.group(1) if gemini else body.get("model", "")
        if model.startswith("fail-"):
            status = int(model.split("-")[1])
            error = ({"error": {"code": status, "message": "fake failure", "status": "RESOURCE_EXHAUSTED"}} if gemini
                     else {"type": "error", "error": {"type": "rate_limit_error", "message": "fake failure"}}
                     if path.startswith("/v1/messages")
                     else {"error": {"message": "fake failure", "type": "rate_limit_error", "code": None}})
            return _json(handler, error, status)
        if gemini:
            if gemini.group(2) == "generateContent":
                return _json(handler, generate_content(model))
            return _sse(handler, [(None, chunk) for chunk in gemini_chunks(model)], done=False)
        if path.startswith("/v1/chat/completions"):
            answer = OPENAI_CHAT_MODEL if model.startswith("gpt-4o") else model
            if body.get("stream"):
                usage = bool((body.get("stream_options") or {}).get("include_usage"))
                return _sse(handler, [(None, chunk) for chunk in chat_chunks(answer, usage)], done=True)
            return _json(handler, chat_completion(answer))
        if path.startswith("/v1/responses"):
            answer = OPENAI_RESPONSES_MODEL if model == "o3" else model
            if body.get("stream"):
                return _sse(handler, response_events(answer), done=False)
            return _json(handler, response(answer))
        if path.startswith("/v1/messages"):
            if body.get("stream"):
                return _sse(handler, message_events(model), done=False)
            return _json(handler, message(model))
        return _json(handler, {"error": {"message": f"no such path {path}"}}, 404)


def _json(handler: BaseHTTPRequestHandler, body: dict, status: int = 200) -> None:
    send_json(handler, body, status)


def _sse(handler: BaseHTTPRequestHandler, events: list[tuple[str | None, dict]], *, done: bool) -> None:
    """Server-sent events as the providers send them: `event:` lines where they name events,
    OpenAI's chat streams closed by `data: [DONE]`."""
    parts = [(f"event: {kind}\n" if kind else "") + f"data: {json.dumps(data)}\n\n" for kind, data in events]
    if done:
        parts.append("data: [DONE]\n\n")
    payload = "".join(parts).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)
