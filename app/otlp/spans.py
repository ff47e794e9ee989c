"""Spans → calls: each span of an export that records a GenAI model call becomes one call, in the
ingest API's JSON shape (:class:`app.schemas.calls.CallInSchema` then validates it, as it validates
``POST /api/calls``).

A span is a model call when it carries a provider (`gen_ai.provider.name`, or the older
`gen_ai.system`) and a model (`gen_ai.response.model`, else `gen_ai.request.model`), unless its
`gen_ai.operation.name` is one the mapping ignores (agent and tool spans, which wrap model calls).
Every other span is ignored. What the call holds:

- tokens: the `gen_ai.usage.*` attributes (:data:`app.otlp.conventions.TOKENS`); absent counts are 0;
- success: the span's status is not ERROR; the error is `error.type` and the status message (cut
  to fit, NULs dropped: a call is not lost for its error's text);
- timestamp: the span's start (UTC, to the microsecond); durationMs: end − start, rounded;
- requestId: ``otel-<trace id>-<span id>`` (hex): a span exported again is the same call;
- company, user, assistant, endpoint and metadata: from the attributes the mapping names
  (:class:`app.config.OtlpMapping`), on the span or else its resource. With an API key bound to a
  company the call is that company's; a span that (or whose resource) names another company in any
  of the company attributes is rejected.

A span that cannot be a call (ids of the wrong length, another company's span) is rejected here,
with a message naming it; everything else about its values is judged by the ingest schema.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from app.config import OtlpMapping
from app.otlp import conventions
from app.pricing.catalog import SERVICE_TIERS

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REQUEST_ID_PREFIX = "otel-"


@dataclass(frozen=True)
class SpanCall:
    """A span that records a model call, as the call the ingest API would receive."""

    span: str  # how messages name it: "<trace id>/<span id> 'name'"
    body: dict[str, Any]  # the call's fields, as POST /api/calls takes them
    sources: dict[str, str]  # each field of `body` → where in the span it came from


@dataclass
class Mapped:
    """An export's spans, sorted: the model calls, the spans rejected (with why), the rest ignored."""

    calls: list[SpanCall] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    spans: int = 0
    ignored: int = 0


def model_calls(export: ExportTraceServiceRequest, mapping: OtlpMapping, *, bound_company: str | None,
                max_error_chars: int) -> Mapped:
    """The model calls among `export`'s spans (module docstring). `bound_company`: the company of the
    API key that sent them, None for a key that spans every company."""
    mapped = Mapped()
    for resource_spans in export.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                mapped.spans += 1
                attributes = _attributes(span.attributes)
                provider, model = _first(attributes, conventions.PROVIDER), _first(attributes, conventions.MODEL)
                operation = _python(attributes[conventions.OPERATION]) if conventions.OPERATION in attributes else None
                if provider is None or model is None or (
                        isinstance(operation, str) and operation in mapping.ignored_operations):
                    mapped.ignored += 1
                    continue
                name = _name(span)
                try:
                    mapped.calls.append(SpanCall(name, *_call(span, attributes, resource, provider, model, mapping,
                                                              bound_company, max_error_chars)))
                except _Rejected as exc:
                    mapped.rejected.append(f"span {name}: {exc}")
    return mapped


class _Rejected(ValueError):
    """Why a span cannot be a call."""


def _call(span: Span, attributes: dict[str, AnyValue], resource: dict[str, AnyValue], provider: tuple[str, AnyValue],
          model: tuple[str, AnyValue], mapping: OtlpMapping, bound_company: str | None,
          max_error_chars: int) -> tuple[dict[str, Any], dict[str, str]]:
    if len(span.trace_id) != 16 or not any(span.trace_id):
        raise _Rejected("traceId must be 16 bytes, not all zero.")
    if len(span.span_id) != 8 or not any(span.span_id):
        raise _Rejected("spanId must be 8 bytes, not all zero.")
    body: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def put(name: str, value: Any, source: str) -> None:
        body[name] = value
        sources[name] = source

    provider_key, provider_value = provider
    sent = _python(provider_value)
    put("provider", conventions.PROVIDERS.get(sent.strip().lower(), sent) if isinstance(sent, str) else sent,
        provider_key)
    put("model", _python(model[1]), model[0])
    for name, keys in conventions.TOKENS.items():
        if found := _first(attributes, keys):
            put(name, _count(found[1]), found[0])
    body.setdefault("inputTokens", 0)  # a span without usage (a failed call, often) used none we know of
    body.setdefault("outputTokens", 0)
    tier = _first(attributes, conventions.SERVICE_TIER)
    if tier is not None and isinstance(name := _python(tier[1]), str) and name in SERVICE_TIERS:
        put("serviceTier", name, tier[0])  # otherwise ("default", "auto", "scale"…) the standard tier

    put("timestamp", (EPOCH + timedelta(microseconds=span.start_time_unix_nano // 1000)).isoformat(),
        "startTimeUnixNano")
    # Rounded to the millisecond (an end before the start is refused by the schema, as a negative durationMs).
    put("durationMs", (span.end_time_unix_nano - span.start_time_unix_nano + 500_000) // 1_000_000,
        "endTimeUnixNano − startTimeUnixNano")
    put("success", span.status.code != Status.STATUS_CODE_ERROR, "status.code")
    if not body["success"]:
        error_type = attributes.get(conventions.ERROR_TYPE)
        parts = [str(_python(error_type)) if error_type is not None else "", span.status.message]
        # Descriptive text, made to fit rather than refused: cut to the ledger's bound, without NULs
        # (which PostgreSQL cannot store; a lone surrogate never gets this far: the decoders refuse it).
        error = ": ".join(part for part in parts if part).replace("\x00", "")
        put("error", error[:max_error_chars] or "error", "error.type and status.message")
    put("requestId", f"{REQUEST_ID_PREFIX}{span.trace_id.hex()}-{span.span_id.hex()}", "traceId and spanId")

    if bound_company is not None:
        # Every company the span or its resource names must be the key's, not only the one that would win.
        for key in mapping.company:
            for where, found in (("span", attributes), ("resource", resource)):
                named = _lookup((key,), found, {})
                if named is not None and named[1] != bound_company:
                    raise _Rejected(f"{where} attribute {key} names company {_short(named[1])}, but this API key "
                                    f"writes for company {bound_company!r} only.")
        put("companyId", bound_company, "the API key's company")
    elif company := _lookup(mapping.company, attributes, resource):
        put("companyId", company[1], company[0])
    for name, keys in (("userId", mapping.user), ("assistantId", mapping.assistant_id),
                       ("assistantName", mapping.assistant_name), ("endpoint", mapping.endpoint)):
        if found := _lookup(keys, attributes, resource):
            put(name, found[1], found[0])
    metadata = {}
    for key, attribute in mapping.metadata:
        if found := _lookup((attribute,), attributes, resource, text=False):
            metadata[key] = found[1]
    if metadata:
        put("metadata", metadata, "attributes named by OTLP_METADATA_ATTRIBUTES")
    return body, sources


def _attributes(pairs: Any) -> dict[str, AnyValue]:
    """A span's or resource's attributes by key (a repeated key: the last one)."""
    found: dict[str, AnyValue] = {}
    pair: KeyValue
    for pair in pairs:
        found[pair.key] = pair.value
    return found


def _first(attributes: dict[str, AnyValue], keys: tuple[str, ...]) -> tuple[str, AnyValue] | None:
    """The first of `keys` the attributes hold with a value (an empty string is no value)."""
    for key in keys:
        value = attributes.get(key)
        if value is None:
            continue
        kind = value.WhichOneof("value")
        if kind is not None and (kind != "string_value" or value.string_value):
            return key, value
    return None


def _lookup(keys: tuple[str, ...], span: dict[str, AnyValue], resource: dict[str, AnyValue], *,
            text: bool = True) -> tuple[str, Any] | None:
    """The first of `keys` on the span, else on the resource: (where it was, its value — a whole number
    as text when `text`, the ids being text)."""
    for key in keys:
        for where, attributes in (("span", span), ("resource", resource)):
            if found := _first(attributes, (key,)):
                value = _python(found[1])
                if text and isinstance(value, int) and not isinstance(value, bool):
                    value = str(value)
                return f"{where} attribute {key}", value
    return None


def _count(value: AnyValue) -> Any:
    """A token count: an int, or a double holding a whole number (JavaScript's SDK sends numbers as
    doubles); anything else is passed on as it is, for the schema to refuse by name."""
    found = _python(value)
    if isinstance(found, float) and math.isfinite(found) and found.is_integer():
        return int(found)
    return found


def _python(value: AnyValue) -> Any:
    """An attribute value as JSON would hold it: bytes in base64, a non-finite double as text."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_python(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {pair.key: _python(pair.value) for pair in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    found = getattr(value, kind)
    if kind == "double_value" and not math.isfinite(found):
        return str(found)  # JSON (and PostgreSQL's jsonb) has no NaN or Infinity
    return found


def _name(span: Span) -> str:
    return f"{span.trace_id.hex()}/{span.span_id.hex()} {_short(span.name)}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"
