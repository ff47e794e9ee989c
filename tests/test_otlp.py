"""POST /v1/traces through the real app and database: OTLP export requests built with the official
protobuf messages (or written as OTLP JSON by hand) become calls priced exactly as the same calls
sent to POST /api/calls; everything else is ignored, refused with a clear 4xx, or — for a span that
cannot be stored — named in the answer's partial success. Never a 5xx.
"""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (ExportTraceServiceRequest,
                                                                      ExportTraceServiceResponse)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from sqlalchemy import select

from app import create_app
from app.config import OtlpMapping, Settings
from app.db import Database
from app.models import LlmCall

PROTOBUF, JSON = "application/x-protobuf", "application/json"
START = datetime(2026, 3, 5, 10, 0, 0, 123456, tzinfo=UTC)
START_NS = int(START.timestamp()) * 10**9 + 123_456_789  # the nanoseconds past the microsecond are dropped
TRACE = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")


def value(v: Any) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    if isinstance(v, bytes):
        return AnyValue(bytes_value=v)
    if isinstance(v, list):
        return AnyValue(array_value=ArrayValue(values=[value(item) for item in v]))
    if isinstance(v, dict):
        return AnyValue(kvlist_value=KeyValueList(values=attributes(v)))
    return AnyValue(string_value=v)


def attributes(values: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=value(v)) for key, v in values.items()]


def span(n: int = 1, *, duration_ms: float = 842, error: str | None = None, trace: bytes = TRACE,
         name: str = "chat gpt-4o", start_ns: int = START_NS, **attrs: Any) -> Span:
    """A span (span id `n`) whose attributes are `attrs` (dots spelled as in OTel: pass a dict via **)."""
    status = Status(code=Status.STATUS_CODE_ERROR, message=error) if error is not None else Status(
        code=Status.STATUS_CODE_OK)
    return Span(trace_id=trace, span_id=n.to_bytes(8, "big"), name=name, kind=Span.SPAN_KIND_CLIENT,
                start_time_unix_nano=start_ns, end_time_unix_nano=start_ns + int(duration_ms * 1_000_000),
                attributes=attributes(attrs), status=status)


def chat(n: int = 1, **attrs: Any) -> Span:
    """An OpenAI chat span as the semantic conventions describe it: 1,000 tokens in (200 cached), 500 out."""
    return span(n, **({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                       "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
                       "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500,
                       "gen_ai.usage.cache_read.input_tokens": 200} | attrs))


def export(*spans: Span, resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource=Resource(attributes=attributes(resource or {"service.name": "checkout"})),
        scope_spans=[ScopeSpans(spans=list(spans))])])


def post(client, request: ExportTraceServiceRequest | bytes | dict, *, fmt: str = PROTOBUF,
         encoding: str | None = None, headers: dict[str, str] | None = None):
    if isinstance(request, ExportTraceServiceRequest):
        body = request.SerializeToString() if fmt == PROTOBUF else json.dumps(otlp_json(request)).encode()
    elif isinstance(request, dict):
        body = json.dumps(request).encode()
    else:
        body = request
    if encoding == "gzip":
        body = gzip.compress(body)
    elif encoding == "deflate":
        body = zlib.compress(body)
    sent = {"Content-Type": fmt} | ({"Content-Encoding": encoding} if encoding else {}) | (headers or {})
    return client.post("/v1/traces", data=body, headers=sent)


def otlp_json(request: ExportTraceServiceRequest) -> dict[str, Any]:
    """The request as OTLP JSON: the protobuf JSON mapping, with trace and span ids in hex."""
    document = json_format.MessageToDict(request)
    for resource in document.get("resourceSpans", []):
        for scope in resource.get("scopeSpans", []):
            for item in scope.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in item:
                        item[key] = __import__("base64").b64decode(item[key]).hex()
    return document


def answer(response) -> ExportTraceServiceResponse:
    """The answer's ExportTraceServiceResponse, read in the format it came in."""
    assert response.status_code == 200, (response.status_code, response.data)
    if response.mimetype == PROTOBUF:
        return ExportTraceServiceResponse.FromString(response.data)
    assert response.mimetype == JSON
    return json_format.Parse(response.data, ExportTraceServiceResponse())


def stored(session, n: int = 1, trace: bytes = TRACE) -> LlmCall | None:
    return session.scalars(select(LlmCall).where(
        LlmCall.request_id == f"otel-{trace.hex()}-{n.to_bytes(8, 'big').hex()}")).one_or_none()


def calls_of(session) -> list[LlmCall]:
    return list(session.scalars(select(LlmCall).where(LlmCall.request_id.like("otel-%")).order_by(LlmCall.request_id)))


def same_call_via_api(client, **fields: Any) -> dict[str, Any]:
    body = {"provider": "openai", "model": "gpt-4o-2024-08-06", "inputTokens": 1000, "outputTokens": 500,
            "cachedInputTokens": 200, "timestamp": START.isoformat()} | fields
    response = client.post("/api/calls", json=body)
    assert response.status_code == 201, response.json
    return response.json


# --- spans become calls ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", [PROTOBUF, JSON])
def test_a_chat_span_becomes_the_call_post_api_calls_would_store(client, session, fmt):
    response = post(client, export(chat(**{"enduser.id": "user_42", "http.route": "/chat"}),
                                   resource={"service.name": "checkout", "tenant.id": "comp_123"}), fmt=fmt)
    assert response.mimetype == fmt
    assert not answer(response).HasField("partial_success")
    call = stored(session)
    api = same_call_via_api(client, companyId="comp_123")
    assert (call.provider, call.model, call.company_id) == ("openai", "gpt-4o-2024-08-06", "comp_123")
    assert (call.input_tokens, call.output_tokens, call.cached_input_tokens) == (1000, 500, 200)
    assert (call.user_id, call.endpoint, call.assistant_id, call.assistant_name) == (
        "user_42", "/chat", "checkout", "checkout")
    assert call.timestamp == START and call.duration_ms == 842 and call.success is True and call.error_message is None
    assert call.request_id == f"otel-{TRACE.hex()}-0000000000000001"
    assert call.call_metadata == {"operation": "chat"}
    assert call.price_id is not None
    assert (call.input_cost, call.output_cost, call.total_cost) == (
        Decimal(api["inputCost"]), Decimal(api["outputCost"]), Decimal(api["totalCost"]))


@pytest.mark.parametrize(("attrs", "tokens"), [
    pytest.param({"gen_ai.system": "openai", "gen_ai.usage.prompt_tokens": 1000, "gen_ai.usage.completion_tokens": 500},
                 {"inputTokens": 1000, "outputTokens": 500}, id="older-names"),
    pytest.param({"gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500,
                  "gen_ai.usage.prompt_tokens": 7, "gen_ai.usage.completion_tokens": 7},
                 {"inputTokens": 1000, "outputTokens": 500}, id="current-names-win"),
    pytest.param({"gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500,
                  "gen_ai.usage.cache_read.input_tokens": 600, "gen_ai.usage.reasoning.output_tokens": 300},
                 {"inputTokens": 1000, "outputTokens": 500, "cachedInputTokens": 600, "reasoningTokens": 300},
                 id="cache-read-and-reasoning"),
    pytest.param({"gen_ai.usage.input_tokens": 1000.0, "gen_ai.usage.output_tokens": 500.0},
                 {"inputTokens": 1000, "outputTokens": 500}, id="whole-doubles"),
    pytest.param({}, {"inputTokens": 0, "outputTokens": 0}, id="no-usage"),
])
def test_each_spelling_of_the_token_counts_maps_to_the_call_the_api_would_price(client, session, attrs, tokens):
    base = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-2024-08-06"}
    if "gen_ai.system" in attrs:
        base.pop("gen_ai.provider.name")
    post_answer = answer(post(client, export(span(1, **(base | attrs)))))
    assert not post_answer.HasField("partial_success")
    call = stored(session)
    api = same_call_via_api(client, **{"cachedInputTokens": 0} | tokens)
    for name, column in (("inputTokens", "input_tokens"), ("outputTokens", "output_tokens"),
                         ("cachedInputTokens", "cached_input_tokens"), ("reasoningTokens", "reasoning_tokens")):
        assert getattr(call, column) == api[name]
    assert call.total_cost == Decimal(api["totalCost"])


@pytest.mark.parametrize("attribute", ["gen_ai.usage.cache_creation.input_tokens",
                                       "gen_ai.usage.cache_write.input_tokens",
                                       "gen_ai.usage.cache_creation_input_tokens"])
def test_cache_writes_under_every_name_in_use_are_priced_as_cache_writes(client, session, attribute):
    """Anthropic with cache reads and writes: gen_ai.usage.input_tokens counts them all, as the
    conventions (and the ledger) say; the cost is the API's for the same call."""
    answer(post(client, export(span(1, **{
        "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5",
        "gen_ai.response.model": "claude-sonnet-4-5-20250929", "gen_ai.usage.input_tokens": 5000,
        "gen_ai.usage.output_tokens": 400, "gen_ai.usage.cache_read.input_tokens": 3000, attribute: 1500}))))
    call = stored(session)
    api = same_call_via_api(client, provider="anthropic", model="claude-sonnet-4-5-20250929", inputTokens=5000,
                            outputTokens=400, cachedInputTokens=3000, cacheWriteTokens=1500)
    assert (call.input_tokens, call.cached_input_tokens, call.cache_write_tokens) == (5000, 3000, 1500)
    assert call.price_id is not None and call.total_cost == Decimal(api["totalCost"])


def test_the_response_model_is_preferred_and_the_request_model_is_enough(client, session):
    answer(post(client, export(chat(1), chat(2, **{"gen_ai.response.model": ""}),
                               span(3, **{"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}))))
    assert [c.model for c in calls_of(session)] == ["gpt-4o-2024-08-06", "gpt-4o", "gpt-4o-mini"]


@pytest.mark.parametrize(("sent", "provider", "canonical"), [
    ("openai", "openai", "openai"), ("anthropic", "anthropic", "anthropic"), ("gcp.gemini", "gemini", "google"),
    ("gcp.vertex_ai", "vertex_ai", "google"), ("gcp.gen_ai", "google", "google"), ("aws.bedrock", "bedrock", "aws"),
    ("azure.ai.openai", "azure_openai", "azure"), ("x_ai", "xai", "x-ai"), ("mistral_ai", "mistral", "mistral"),
    ("some.new.provider", "some.new.provider", "some.new.provider"),
])
def test_provider_names_of_the_conventions_map_to_the_ledgers(client, session, sent, provider, canonical):
    answer(post(client, export(chat(1, **{"gen_ai.provider.name": sent}))))
    call = stored(session)
    assert (call.provider, call.canonical_provider) == (provider, canonical)


def test_azure_openai_is_priced_at_azures_prices_for_openais_model(client, session):
    answer(post(client, export(chat(1, **{"gen_ai.provider.name": "azure.ai.openai"}))))
    call = stored(session)
    api = same_call_via_api(client, provider="azure_openai")
    assert call.price_id is not None and call.total_cost == Decimal(api["totalCost"])


def test_a_failed_span_is_a_failed_call_with_its_error(client, session):
    answer(post(client, export(
        chat(1, error="Error code: 500 - upstream overloaded", **{"error.type": "InternalServerError"}),
        chat(2, error="", **{"error.type": "timeout"}),
        chat(3, error="rate limited"),
        chat(4, error=""),
        chat(5, **{"error.type": "ignored: the status is OK"}))))
    assert [(c.success, c.error_message) for c in calls_of(session)] == [
        (False, "InternalServerError: Error code: 500 - upstream overloaded"), (False, "timeout"),
        (False, "rate limited"), (False, "error"), (True, None)]


def test_an_error_message_the_ledger_cannot_keep_whole_is_cut_not_refused(client, session):
    answer(post(client, export(chat(1, error="x" * 20_000), chat(2, error="bad\x00byte"))))
    assert stored(session).error_message == "x" * 10_000
    assert stored(session, 2).error_message == "badbyte"
    document = otlp_json(export(chat(3, error="lone SURROGATE")))  # (the message classes refuse one)
    status = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["status"]
    status["message"] = status["message"].replace("SURROGATE", "\ud800 surrogate")
    refused = post(client, document, fmt=JSON)  # not text at all: the whole body is malformed
    assert refused.status_code == 400 and "Unpaired surrogate" in refused.get_json()["message"]
    assert stored(session, 3) is None


def test_service_tier_of_the_response_is_priced(client, session):
    answer(post(client, export(chat(1, **{"openai.response.service_tier": "flex"}),
                               chat(2, **{"gen_ai.openai.response.service_tier": "priority"}),
                               chat(3, **{"openai.response.service_tier": "default"}),
                               chat(4, **{"openai.response.service_tier": "scale"}))))
    assert [c.service_tier for c in calls_of(session)] == ["flex", "priority", "standard", "standard"]
    flex = same_call_via_api(client, serviceTier="flex")
    assert calls_of(session)[0].total_cost == Decimal(flex["totalCost"])


def test_only_model_calls_are_recorded_and_other_spans_ignored(client, session, caplog):
    caplog.set_level("INFO", logger="app.api.otlp")
    spans = [
        chat(1),
        span(2, name="GET /chat", **{"http.route": "/chat", "http.request.method": "GET"}),  # no GenAI at all
        span(3, **{"gen_ai.provider.name": "openai"}),  # a provider, no model
        span(4, **{"gen_ai.request.model": "gpt-4o"}),  # a model, no provider
        span(5, name="invoke_agent support", **{  # an agent run: its usage is its chat spans' sum
            "gen_ai.operation.name": "invoke_agent", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500}),
        span(6, **{"gen_ai.operation.name": "execute_tool", "gen_ai.provider.name": "openai",
                   "gen_ai.request.model": "gpt-4o"}),
        chat(7, **{"gen_ai.operation.name": "embeddings", "gen_ai.usage.output_tokens": 0}),
    ]
    assert not answer(post(client, export(*spans))).HasField("partial_success")
    assert [c.request_id[-1] for c in calls_of(session)] == ["1", "7"]
    assert "7 spans, 2 model calls stored, 0 duplicates, 0 rejected, 5 ignored" in caplog.text


def test_an_export_exported_again_stores_nothing_twice(client, session):
    request = export(chat(1), chat(2))
    for fmt in (PROTOBUF, JSON, PROTOBUF):
        assert not answer(post(client, request, fmt=fmt)).HasField("partial_success")
    assert len(calls_of(session)) == 2
    # The same trace and span id from another trace's span is another call.
    answer(post(client, export(chat(1, trace=bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")))))
    assert len(calls_of(session)) == 3


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
@pytest.mark.parametrize("fmt", [PROTOBUF, JSON])
def test_compressed_bodies_are_read(client, session, encoding, fmt):
    answer(post(client, export(chat(1)), fmt=fmt, encoding=encoding))
    assert stored(session).input_tokens == 1000


def test_otlp_json_with_int64_as_numbers_or_strings_and_enums_as_numbers(client, session):
    start = START_NS
    document = {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
        "scopeSpans": [{"scope": {"name": "hand-written"}, "spans": [
            {"traceId": TRACE.hex(), "spanId": "0000000000000001", "parentSpanId": "", "name": "chat",
             "kind": 3, "startTimeUnixNano": str(start), "endTimeUnixNano": start + 1_500_000_000,
             "status": {"code": 2, "message": "boom"},
             "attributes": [{"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
                            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1000"}},
                            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 500}},
                            {"key": "unknown.field.ok", "value": {"stringValue": "x"}, "extra": True}],
             "someFutureField": {"ignored": True}}]}]}]}
    assert not answer(post(client, document, fmt=JSON)).HasField("partial_success")
    call = stored(session)
    assert (call.input_tokens, call.output_tokens, call.duration_ms, call.success, call.error_message) == (
        1000, 500, 1500, False, "boom")


def test_the_json_answer_is_otlp_json(client):
    assert post(client, export(chat(1)), fmt=JSON).get_json() == {}
    bad = post(client, export(chat(1, **{"gen_ai.usage.input_tokens": -1})), fmt=JSON).get_json()
    assert bad["partialSuccess"]["rejectedSpans"] == "1" and "input_tokens" in bad["partialSuccess"]["errorMessage"]


# --- company, user, assistant, endpoint --------------------------------------------------------

def test_span_attributes_override_resource_attributes_and_earlier_keys_win(client, session):
    resource = {"service.name": "checkout", "tenant.id": "from-resource", "enduser.id": "resource-user"}
    answer(post(client, export(
        chat(1),
        chat(2, **{"tenant.id": "from-span", "enduser.id": "span-user", "gen_ai.agent.name": "Support Agent"}),
        chat(3, **{"ledger.company_id": "explicit", "gen_ai.agent.id": "asst_7", "gen_ai.agent.name": "Support",
                   "ledger.endpoint": "/refunds", "http.route": "/chat", "user.id": "later-key"}),
        resource=resource)))
    assert [(c.company_id, c.user_id, c.assistant_id, c.assistant_name, c.endpoint) for c in calls_of(session)] == [
        ("from-resource", "resource-user", "checkout", "checkout", None),
        ("from-span", "span-user", "Support Agent", "Support Agent", None),
        ("explicit", "resource-user", "asst_7", "Support", "/refunds")]


def test_a_platform_key_without_a_company_attribute_writes_to_default(client, session):
    answer(post(client, export(chat(1))))
    assert stored(session).company_id == "default"


def test_a_company_key_writes_its_company_and_never_another(make_client, session):
    client = make_client("acme", scopes="ingest")
    response = post(client, export(chat(1), chat(2, **{"tenant.id": "acme"}), chat(3, **{"tenant.id": "globex"}),
                                   chat(4), resource={"service.name": "checkout", "ledger.company_id": "acme"}))
    partial = answer(response).partial_success
    assert partial.rejected_spans == 1
    assert "span attribute tenant.id names company 'globex'" in partial.error_message
    assert "company 'acme' only" in partial.error_message
    assert [(c.request_id[-1], c.company_id, c.api_key_id is not None) for c in calls_of(session)] == [
        ("1", "acme", True), ("2", "acme", True), ("4", "acme", True)]
    other = post(client, export(chat(5)), )
    assert answer(other).partial_success.rejected_spans == 0
    assert post(client, export(chat(6), resource={"tenant.id": "globex"})).status_code == 200
    assert stored(session, 6) is None


@pytest.fixture
def mapped_client(engine, session_factory, database_url, make_client):
    """A client of an app whose OTLP mapping was configured (as OTLP_* variables would)."""
    mapping = OtlpMapping.from_env({
        "OTLP_COMPANY_ATTRIBUTES": "org.slug", "OTLP_USER_ATTRIBUTES": "app.user",
        "OTLP_ASSISTANT_ID_ATTRIBUTES": "app.bot", "OTLP_ASSISTANT_NAME_ATTRIBUTES": "",
        "OTLP_ENDPOINT_ATTRIBUTES": "http.route, code.function",
        "OTLP_METADATA_ATTRIBUTES": "project=app.project,env=deployment.environment.name,tags=app.tags",
        "OTLP_IGNORED_OPERATIONS": "embeddings"})
    app = create_app(Settings(database_url=database_url, otlp=mapping), Database(engine, session_factory))
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = make_client().environ_base["HTTP_AUTHORIZATION"]
    return client


def test_the_mapping_is_configurable(mapped_client, session):
    answer(post(mapped_client, export(
        chat(1, **{"app.user": 42, "app.bot": "bot-1", "gen_ai.agent.name": "unused", "code.function": "answer",
                   "app.tags": ["a", "b"], "enduser.id": "unused", "tenant.id": "unused"}),
        chat(2, **{"gen_ai.operation.name": "embeddings"}),  # ignored by this mapping
        span(3, **{"gen_ai.operation.name": "invoke_agent", "gen_ai.provider.name": "openai",  # recorded by it
                   "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10}),
        resource={"service.name": "checkout", "org.slug": "initech", "app.project": "search",
                  "deployment.environment.name": "prod"})))
    first, third = calls_of(session)
    assert (first.company_id, first.user_id, first.assistant_id, first.assistant_name, first.endpoint) == (
        "initech", "42", "bot-1", None, "answer")
    assert first.call_metadata == {"project": "search", "env": "prod", "tags": ["a", "b"]}
    assert third.request_id.endswith("3") and third.input_tokens == 10


def test_a_bad_mapping_variable_is_a_configuration_error():
    from app.config import ConfigError
    with pytest.raises(ConfigError, match="key=attribute"):
        OtlpMapping.from_env({"OTLP_METADATA_ATTRIBUTES": "project"})
    assert Settings.from_env({"DATABASE_URL": "postgresql://x/y", "OTLP_USER_ATTRIBUTES": "a, b"}).otlp.user == ("a", "b")


# --- what cannot be stored: partial success ----------------------------------------------------

@pytest.mark.parametrize(("attrs", "named"), [
    ({"gen_ai.usage.input_tokens": -1}, "gen_ai.usage.input_tokens (inputTokens)"),
    ({"gen_ai.usage.output_tokens": "500"}, "gen_ai.usage.output_tokens (outputTokens): Not a valid integer"),
    ({"gen_ai.usage.output_tokens": 1.5}, "gen_ai.usage.output_tokens (outputTokens)"),
    ({"gen_ai.usage.output_tokens": float("nan")}, "gen_ai.usage.output_tokens (outputTokens)"),
    ({"gen_ai.usage.input_tokens": 10**15}, "gen_ai.usage.input_tokens (inputTokens)"),
    ({"gen_ai.usage.cache_read.input_tokens": 5000}, "cachedInputTokens"),
    ({"gen_ai.usage.reasoning.output_tokens": 501}, "reasoningTokens"),
    ({"gen_ai.response.model": "m" * 201}, "gen_ai.response.model (model)"),
    ({"gen_ai.provider.name": 7}, "gen_ai.provider.name (provider)"),
    ({"enduser.id": "user\x00"}, "span attribute enduser.id (userId): Must not contain a NUL"),
    ({"gen_ai.operation.name": "chat\x00"}, "metadata.operation"),
    ({"enduser.id": ["a", "list"]}, "span attribute enduser.id (userId)"),
    ({"tenant.id": ""}, None),  # an empty value is no value: stored
])
def test_a_span_with_values_the_ledger_cannot_store_is_named_and_the_rest_stored(client, session, attrs, named):
    partial = answer(post(client, export(chat(1, **attrs), chat(2)))).partial_success
    if named is None:
        assert partial.rejected_spans == 0 and len(calls_of(session)) == 2
        return
    assert partial.rejected_spans == 1
    assert f"span {TRACE.hex()}/0000000000000001 'chat gpt-4o': " in partial.error_message
    assert named in partial.error_message, partial.error_message
    assert [c.request_id[-1] for c in calls_of(session)] == ["2"]


@pytest.mark.parametrize(("changes", "named"), [
    ({"start_ns": 0}, "startTimeUnixNano (timestamp): Must be within 2000-01-01"),
    ({"start_ns": int((datetime.now(UTC) + timedelta(days=2)).timestamp() * 1e9)},
     "startTimeUnixNano (timestamp): Must not be in the future"),
    ({"duration_ms": -5}, "endTimeUnixNano − startTimeUnixNano (durationMs)"),
    ({"duration_ms": 40 * 86_400_000}, "endTimeUnixNano − startTimeUnixNano (durationMs)"),
    ({"trace": b"\x00" * 16}, "traceId must be 16 bytes, not all zero"),
    ({"trace": b"\x01" * 15}, "traceId must be 16 bytes"),
])
def test_a_span_with_impossible_times_or_ids_is_named(client, session, changes, named):
    partial = answer(post(client, export(chat(2), span(1, **changes, **{
        "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"})))).partial_success
    assert partial.rejected_spans == 1 and named in partial.error_message, partial.error_message
    assert len(calls_of(session)) == 1


def test_many_rejected_spans_are_counted_and_the_first_named(client, session):
    partial = answer(post(client, export(*[chat(n, **{"gen_ai.usage.input_tokens": -n}) for n in range(1, 31)],
                                         chat(99)))).partial_success
    assert partial.rejected_spans == 30
    assert partial.error_message.startswith("30 GenAI span(s) not stored: ")
    assert partial.error_message.endswith("; and 20 more")
    assert len(calls_of(session)) == 1


# --- refused requests: 4xx, in OTLP's Status -------------------------------------------------

def status_of(response) -> dict[str, Any]:
    if response.mimetype == PROTOBUF:  # google.rpc.Status: code (1), message (2)
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
        pool = descriptor_pool.DescriptorPool()
        pool.Add(descriptor_pb2.FileDescriptorProto(name="s.proto", package="t", syntax="proto3", message_type=[
            descriptor_pb2.DescriptorProto(name="Status", field=[
                descriptor_pb2.FieldDescriptorProto(name="code", number=1, type=5, label=1),
                descriptor_pb2.FieldDescriptorProto(name="message", number=2, type=9, label=1)])]))
        cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("t.Status"))
        return json_format.MessageToDict(cls.FromString(response.data))
    return response.get_json()


def test_without_a_valid_key_401_and_without_the_ingest_scope_403(app, make_client):
    body = export(chat(1))
    anonymous = post(app.test_client(), body)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert status_of(anonymous)["code"] == 16 and "API key" in status_of(anonymous)["message"]
    unknown = post(app.test_client(), body, fmt=JSON, headers={"Authorization": "Bearer nope"})
    assert unknown.status_code == 401 and unknown.get_json() == {"code": 16, "message": "Unknown or revoked API key."}
    reader = post(make_client(scopes="read"), body)
    assert reader.status_code == 403 and "lacks the 'ingest' scope" in status_of(reader)["message"]
    assert status_of(reader)["code"] == 7


@pytest.mark.parametrize(("body", "headers", "code", "says"), [
    (b"\xff\xff\xff", {}, 400, "not a protobuf ExportTraceServiceRequest"),
    (b"{not json", {"Content-Type": JSON}, 400, "not JSON"),
    (b"[1, 2]", {"Content-Type": JSON}, 400, "must be a JSON object"),
    (b'{"resourceSpans": 7}', {"Content-Type": JSON}, 400, "not an OTLP JSON ExportTraceServiceRequest"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}', {"Content-Type": JSON}, 400,
     "resourceSpans[0].scopeSpans[0].spans[0].traceId: not a hex string"),
    (b"\xff\xfe", {"Content-Type": JSON}, 400, "not JSON"),
    (b"hello", {"Content-Type": "text/plain"}, 415, "application/x-protobuf or application/json"),
    (b"hello", {"Content-Type": ""}, 415, "no Content-Type"),
    (b"x", {"Content-Encoding": "br"}, 415, "Content-Encoding 'br' is not supported"),
    (b"not gzip at all", {"Content-Encoding": "gzip"}, 400, "not valid gzip or deflate"),
    (gzip.compress(b"x" * 100)[:-12], {"Content-Encoding": "gzip"}, 400, "truncated"),
])
def test_undecodable_bodies_are_400_and_other_types_415(client, session, body, headers, code, says):
    response = client.post("/v1/traces", data=body, headers={"Content-Type": PROTOBUF} | headers)
    assert response.status_code == code, response.data
    assert says in status_of(response)["message"]
    assert calls_of(session) == []


def test_a_decompression_bomb_is_413_without_inflating_it(client, session):
    bomb = gzip.compress(b"\x00" * (33 * 1024 * 1024), compresslevel=9)  # ~32 KB in, 33 MB out
    response = post(client, bomb, encoding=None, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413 and "larger than 33,554,432 bytes" in status_of(response)["message"]
    two_members = gzip.compress(b"\x00" * (20 * 1024 * 1024)) * 2
    assert post(client, two_members, headers={"Content-Encoding": "gzip"}).status_code == 413


def test_a_body_over_the_limit_is_413(client):
    response = post(client, b"\x00" * (32 * 1024 * 1024 + 1))
    assert response.status_code == 413 and status_of(response)["code"] == 3


def test_an_empty_export_is_accepted(client, session):
    assert not answer(post(client, b"")).HasField("partial_success")
    assert answer(post(client, {}, fmt=JSON)).ByteSize() == 0
    assert calls_of(session) == []


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, by hand (the message classes refuse to build what is tested here)."""
    length, size = b"", len(payload)
    while True:
        length += bytes([(size & 0x7F) | (0x80 if size >> 7 else 0)])
        size >>= 7
        if not size:
            break
    return bytes([number << 3 | 2]) + length + payload


def nested_export(depth: int) -> bytes:
    """An export whose one span has an attribute `depth` arrays deep."""
    value = AnyValue(string_value="deep").SerializeToString()
    for _ in range(depth):
        value = field(5, field(1, value))  # AnyValue.array_value → ArrayValue.values
    span_bytes = field(1, TRACE) + field(2, b"\x01" * 8) + field(9, field(1, b"deep") + field(2, value))
    return field(1, field(2, field(2, span_bytes)))  # request.resource_spans → scope_spans → spans


@pytest.mark.parametrize("hostile", [
    pytest.param(lambda: export(chat(1)).SerializeToString()[:-3], id="truncated-protobuf"),
    pytest.param(lambda: bytes(range(256)) * 64, id="every-byte"),
    pytest.param(lambda: nested_export(200), id="nesting-200-deep"),
    pytest.param(lambda: b"\n\xff\xff\xff\xff\x0f", id="huge-length-prefix"),
    pytest.param(lambda: json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [
        {"key": "k", "value": {"arrayValue": {"values": [{"stringValue": "\ud800"}]}}}]}]}]}]}).encode(),
        id="json-lone-surrogate"),
    pytest.param(lambda: b'{"resourceSpans":' + b"[" * 100_000 + b"]" * 100_000 + b"}", id="json-100000-deep"),
    pytest.param(lambda: json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "startTimeUnixNano": "1e400", "traceId": "00"}]}]}]}).encode(), id="json-absurd-numbers"),
    pytest.param(lambda: json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "startTimeUnixNano": str(2**64 - 1), "endTimeUnixNano": "0", "traceId": TRACE.hex(), "spanId": "01" * 8,
        "attributes": [{"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
                       {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}}]}]}]}]}).encode(),
        id="json-last-nanosecond"),
    pytest.param(lambda: export(span(1, start_ns=2**64 - 1, duration_ms=0, **{
        "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": -(2**63), "gen_ai.usage.output_tokens": 2**63 - 1})).SerializeToString(),
        id="extreme-values"),
])
@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_hostile_bodies_never_get_a_5xx(client, session, hostile, encoding):
    body = hostile()
    fmt = JSON if body[:1] in (b"{", b"[") else PROTOBUF
    response = post(client, body, fmt=fmt, encoding=encoding)
    assert response.status_code in (200, 400), (response.status_code, response.data[:300])
    if response.status_code == 200:
        assert calls_of(session) == []


def test_exports_are_counted_in_the_metrics_as_the_otlp_endpoint(client):
    from tests.test_metrics import delta, scrape

    before = scrape(client)
    for request in (export(chat(1), chat(2)), export(chat(1))):
        answer(post(client, request))
    assert post(client, b"\xff", fmt=PROTOBUF).status_code == 400
    after = scrape(client)
    calls, requests = "llm_ledger_ingest_calls_total", "llm_ledger_ingest_requests_total"
    assert delta(after, before, calls, endpoint="otlp", outcome="stored") == 2
    assert delta(after, before, calls, endpoint="otlp", outcome="duplicate") == 1
    assert delta(after, before, requests, endpoint="otlp", code="200") == 2
    assert delta(after, before, requests, endpoint="otlp", code="400") == 1


HOSTILE_VALUES = [["a", 1], {"k": "v"}, b"\x00\xff", True, float("nan"), float("inf"), -(2**63), 2**63 - 1, 0.5, "",
                  "\x00", "x" * 100_000]


@pytest.mark.parametrize("attribute", [
    "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model", "gen_ai.response.model", "gen_ai.operation.name",
    "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.reasoning.output_tokens", "openai.response.service_tier",
    "error.type", "ledger.company_id", "tenant.id", "enduser.id", "gen_ai.agent.id", "gen_ai.agent.name",
    "service.name", "http.route"])
def test_any_value_of_any_attribute_read_is_stored_rejected_or_ignored_never_a_5xx(make_client, session, attribute):
    """Each attribute the mapping reads, with values of every type and extreme: on the span and on its
    resource, with a platform key and a company's key."""
    for trace, client in ((b"\x01" * 16, make_client()), (b"\x02" * 16, make_client("acme", scopes="ingest"))):
        for n, hostile in enumerate(HOSTILE_VALUES, start=1):
            request = export(chat(n, trace=trace, error="failed", **{attribute: hostile}),
                             resource={"service.name": "checkout", attribute: hostile})
            response = post(client, request)
            assert response.status_code == 200, (hostile, response.data[:300])
            partial = answer(response).partial_success
            assert partial.rejected_spans in (0, 1)
            assert (stored(session, n, trace) is not None) or partial.rejected_spans == 1 or attribute in (
                "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model", "gen_ai.response.model",
                "gen_ai.operation.name")  # (a model or provider that is no value: not a model call)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(["resource", "span", "status", "attribute", "value", "root"]), junk=json_values,
       key=st.sampled_from(["attributes", "traceId", "spanId", "startTimeUnixNano", "endTimeUnixNano", "status",
                            "code", "message", "intValue", "doubleValue", "stringValue", "arrayValue", "kvlistValue",
                            "scopeSpans", "spans", "resource", "key", "value", "x"]))
def test_otlp_json_with_junk_anywhere_is_200_or_400(client, where, junk, key):
    document = otlp_json(export(chat(1)))
    resource = document["resourceSpans"][0]
    span_json = resource["scopeSpans"][0]["spans"][0]
    target = {"root": document, "resource": resource, "span": span_json, "status": span_json["status"],
              "attribute": span_json["attributes"][0], "value": span_json["attributes"][0]["value"]}[where]
    target[key] = junk
    response = post(client, document, fmt=JSON)
    assert response.status_code in (200, 400), (response.status_code, response.data[:300])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_protobuf_with_bytes_changed_anywhere_is_200_or_400(client, data):
    body = bytearray(export(chat(1, **{"enduser.id": "u", "gen_ai.usage.reasoning.output_tokens": 7}),
                            chat(2, error="x")).SerializeToString())
    for _ in range(data.draw(st.integers(1, 4))):
        body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    response = post(client, bytes(body))
    assert response.status_code in (200, 400), (response.status_code, response.data[:300])
