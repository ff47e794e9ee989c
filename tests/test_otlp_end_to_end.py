"""OpenTelemetry ingest end to end: a real gunicorn serving the ledger; the official OpenTelemetry SDK
(TracerProvider, span processors) exporting with the official OTLP/HTTP exporter (protobuf, gzip,
the API key in its headers); the official OpenAI instrumentation around the OpenAI SDK, whose
client talks to a fake OpenAI server on 127.0.0.1. Nothing leaves this machine.

The stored calls are read from the database; their costs are compared with the same calls sent to
POST /api/calls of the same server. The tests commit for real, under a company of their own, and
delete what they wrote (`tests.committed`).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.auth.keys import create_key
from app.models import ApiKey, LlmCall
from bench.server import gunicorn
from tests.committed import delete_company, partitions_restored
from tests.local_http import send_json

COMPANY = "otlp-end-to-end-test"
KEY_NAME = "otlp end-to-end test"

# What the fake OpenAI server answers to a chat completion: usage with cached prompt tokens.
COMPLETION = {
    "id": "chatcmpl-otlp-e2e", "object": "chat.completion", "created": 1_767_225_600,
    "model": "gpt-4o-2024-08-06", "service_tier": "default", "system_fingerprint": "fp_e2e",
    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                 "message": {"role": "assistant", "content": "Your refund is on its way.", "refusal": None}}],
    "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
              "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}},
}


class FakeOpenAI(ThreadingHTTPServer):
    """POST /v1/chat/completions: `COMPLETION`, or an HTTP 500 while `failing`."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _FakeOpenAIHandler)
        self.failing = False
        self.requests: list[dict[str, Any]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/v1"


class _FakeOpenAIHandler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.server.requests.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        if self.path != "/v1/chat/completions":
            status, body = 404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}}
        elif self.server.failing:
            status, body = 500, {"error": {"message": "The server had an error while processing your request.",
                                           "type": "server_error", "code": None}}
        else:
            status, body = 200, COMPLETION
        send_json(self, body, status)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass(frozen=True)
class Ledger:
    url: str
    key: str
    key_id: int


@pytest.fixture(scope="module")
def ledger(database_url, engine, tmp_path_factory) -> Iterator[Ledger]:
    """A real gunicorn over the test database, and an ingest key bound to `COMPANY`."""
    with Session(engine) as session:
        made = create_key(session, name=KEY_NAME, company_id=COMPANY, scopes="ingest")
        session.commit()
        key_id = made.key.id
    try:
        with partitions_restored(engine):
            try:
                log = tmp_path_factory.mktemp("otlp-e2e") / "gunicorn.log"
                with gunicorn(database_url, workers=2, log_path=log) as (host, port, _):
                    yield Ledger(f"http://{host}:{port}", made.secret, key_id)
            finally:
                delete_company(engine, COMPANY)
    finally:
        with engine.begin() as conn:
            conn.execute(delete(ApiKey).where(ApiKey.name == KEY_NAME))


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def exporter(ledger: Ledger, key: str | None = None) -> OTLPSpanExporter:
    """The official OTLP/HTTP exporter (protobuf), gzip, the key in its headers — as
    OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer%20<key>" would set it."""
    return OTLPSpanExporter(endpoint=f"{ledger.url}/v1/traces", compression=Compression.Gzip, timeout=30,
                            headers={"Authorization": f"Bearer {key or ledger.key}"})


@dataclass
class Instrumented:
    provider: TracerProvider
    seen: InMemorySpanExporter  # what the instrumentation produced, as the exporter sent it
    client: openai.OpenAI


@pytest.fixture(scope="module")
def instrumented(ledger, fake_openai) -> Iterator[Instrumented]:
    """The OpenAI SDK instrumented by opentelemetry-instrumentation-openai-v2, its spans batched to the ledger."""
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot",
                                                        "deployment.environment.name": "test"}))
    seen = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(seen))
    provider.add_span_processor(BatchSpanProcessor(exporter(ledger)))
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    try:
        yield Instrumented(provider, seen, openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-fake",
                                                         max_retries=0))
    finally:
        OpenAIInstrumentor().uninstrument()
        provider.shutdown()


def stored(engine, span: ReadableSpan) -> LlmCall | None:
    """The call stored for `span` (its request id is its trace and span id)."""
    request_id = f"otel-{span.context.trace_id:032x}-{span.context.span_id:016x}"
    with Session(engine) as session:
        return session.scalars(select(LlmCall).where(LlmCall.company_id == COMPANY,
                                                     LlmCall.request_id == request_id)).one_or_none()


def company_calls(engine) -> int:
    with Session(engine) as session:
        return len(session.scalars(select(LlmCall.id).where(LlmCall.company_id == COMPANY)).all())


def post_call(ledger: Ledger, body: dict[str, Any]) -> dict[str, Any]:
    """The same call through POST /api/calls of the same server (the key's company)."""
    request = urllib.request.Request(f"{ledger.url}/api/calls", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {ledger.key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        return json.loads(response.read())


def microseconds(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


def test_an_instrumented_openai_call_is_recorded_with_its_model_tokens_cost_and_duration(
        instrumented, ledger, engine, fake_openai):
    instrumented.seen.clear()
    completion = instrumented.client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Where is my refund?"}])
    assert completion.usage.prompt_tokens == 1200 and fake_openai.requests[-1]["model"] == "gpt-4o"
    assert instrumented.provider.force_flush(30_000)

    [span] = instrumented.seen.get_finished_spans()
    attributes = dict(span.attributes)
    call = stored(engine, span)
    assert (call.provider, call.model, call.company_id, call.api_key_id) == (
        "openai", "gpt-4o-2024-08-06", COMPANY, ledger.key_id)
    assert (call.input_tokens, call.output_tokens) == (1200, 300)  # prompt tokens, cached ones included
    # The instrumentation says how many were cache reads only if it reports them (for Chat
    # Completions, 2.4b0 does not: the call is then priced without the cache discount).
    cached = attributes.get("gen_ai.usage.cache_read.input_tokens", 0)
    assert call.cached_input_tokens == cached
    assert call.success is True and call.error_message is None
    assert call.timestamp == microseconds(span.start_time)
    assert call.duration_ms == round((span.end_time - span.start_time) / 1_000_000)
    assert (call.assistant_id, call.assistant_name, call.endpoint) == ("support-bot", "support-bot", None)
    assert call.call_metadata == {"operation": "chat"}
    same = post_call(ledger, {"provider": "openai", "model": "gpt-4o-2024-08-06", "inputTokens": 1200,
                              "outputTokens": 300, "cachedInputTokens": cached,
                              "timestamp": call.timestamp.isoformat(), "requestId": "reference-1"})
    assert call.price_id is not None and call.total_cost == Decimal(same["totalCost"])


def test_a_failing_openai_call_is_recorded_as_a_failed_call(instrumented, engine, fake_openai):
    instrumented.seen.clear()
    fake_openai.failing = True
    try:
        with pytest.raises(openai.InternalServerError):
            instrumented.client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "?"}])
    finally:
        fake_openai.failing = False
    assert instrumented.provider.force_flush(30_000)

    [span] = instrumented.seen.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    call = stored(engine, span)
    assert (call.provider, call.model, call.success) == ("openai", "gpt-4o-mini", False)
    assert "Error code: 500" in call.error_message and "InternalServerError" in call.error_message
    assert (call.input_tokens, call.output_tokens) == (0, 0)
    assert call.duration_ms == round((span.end_time - span.start_time) / 1_000_000)


def test_hand_made_genai_spans_through_the_sdk_and_exporter_and_an_export_sent_again(ledger, engine):
    """Spans an application makes itself (the older attribute names, Anthropic's cache writes), among
    spans that are not model calls; then the very same spans exported again store nothing."""
    seen = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "summariser", "tenant.id": COMPANY}))
    provider.add_span_processor(SimpleSpanProcessor(seen))
    provider.add_span_processor(SimpleSpanProcessor(exporter(ledger)))
    tracer = provider.get_tracer("tests.otlp")
    with tracer.start_as_current_span("POST /summarise", kind=SpanKind.SERVER, attributes={"http.route": "/summarise"}):
        with tracer.start_as_current_span("invoke_agent summariser", attributes={
                "gen_ai.operation.name": "invoke_agent", "gen_ai.provider.name": "anthropic",
                "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.usage.input_tokens": 5000}):
            with tracer.start_as_current_span("chat claude-sonnet-4-5", kind=SpanKind.CLIENT, attributes={
                    "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
                    "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.response.model": "claude-sonnet-4-5-20250929",
                    "gen_ai.usage.input_tokens": 5000, "gen_ai.usage.output_tokens": 400,
                    "gen_ai.usage.cache_read.input_tokens": 3000, "gen_ai.usage.cache_creation.input_tokens": 1500,
                    "enduser.id": "user_7", "ledger.endpoint": "/summarise"}):
                pass
            with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes={
                    "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.prompt_tokens": 800, "gen_ai.usage.completion_tokens": 50}) as failed:
                failed.set_status(Status(StatusCode.ERROR, "context length exceeded"))
    provider.force_flush(30_000)
    spans = {span.name: span for span in seen.get_finished_spans()}
    assert len(spans) == 4

    claude, mini = stored(engine, spans["chat claude-sonnet-4-5"]), stored(engine, spans["chat gpt-4o-mini"])
    assert (claude.input_tokens, claude.cached_input_tokens, claude.cache_write_tokens, claude.output_tokens) == (
        5000, 3000, 1500, 400)
    assert (claude.user_id, claude.endpoint, claude.assistant_id) == ("user_7", "/summarise", "summariser")
    same = post_call(ledger, {"provider": "anthropic", "model": "claude-sonnet-4-5-20250929", "inputTokens": 5000,
                              "outputTokens": 400, "cachedInputTokens": 3000, "cacheWriteTokens": 1500,
                              "timestamp": claude.timestamp.isoformat(), "requestId": "reference-2"})
    assert claude.price_id is not None and claude.total_cost == Decimal(same["totalCost"])
    assert (mini.provider, mini.input_tokens, mini.output_tokens, mini.success, mini.error_message) == (
        "openai", 800, 50, False, "context length exceeded")
    # The agent's span (whose usage is its chat spans') and the HTTP server's are not calls.
    assert stored(engine, spans["invoke_agent summariser"]) is None and stored(engine, spans["POST /summarise"]) is None

    before = company_calls(engine)
    again = exporter(ledger)
    assert again.export(list(spans.values())) is SpanExportResult.SUCCESS  # a retry of the same export
    assert company_calls(engine) == before
    again.shutdown()
    provider.shutdown()


def test_the_exporter_configured_by_the_standard_variables_sends_the_key(ledger, engine, monkeypatch):
    """As README says to configure it: OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS (URL-encoded), _COMPRESSION."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", ledger.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{ledger.key}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    seen = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "from-variables"}))
    provider.add_span_processor(SimpleSpanProcessor(seen))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    with provider.get_tracer("tests.otlp").start_as_current_span("chat gpt-4o", attributes={
            "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10}):
        pass
    provider.shutdown()  # flushes the batch
    [span] = seen.get_finished_spans()
    call = stored(engine, span)
    assert call is not None and (call.assistant_id, call.input_tokens, call.output_tokens) == ("from-variables", 100, 10)


def test_the_exporter_with_a_wrong_key_is_refused_and_nothing_is_stored(ledger, engine):
    seen = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(seen))
    with provider.get_tracer("tests.otlp").start_as_current_span("chat gpt-4o", attributes={
            "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 1}):
        pass
    [span] = seen.get_finished_spans()
    refused = exporter(ledger, key="not-a-key")
    assert refused.export([span]) is SpanExportResult.FAILURE  # 401: not retried
    refused.shutdown()
    assert stored(engine, span) is None
    provider.shutdown()
