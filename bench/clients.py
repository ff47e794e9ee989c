"""``make bench-clients``: what the Python client costs the caller, and OTLP ingest against the batch API.

One fresh database (the test suite's choice of server: TEST_DATABASE_URL, else a throwaway
cluster), migrated and priced, a real gunicorn (two workers, as ``make run``). In one run:

1. **The caller's path.** CLIENT_CALLS (20,000) real ``openai.types.chat.ChatCompletion`` objects
   handed to ``LedgerClient.track()``, each timed on the caller's thread (p50/p99/max µs), against
   the naive way a service would record a call without the client — a synchronous
   ``POST /api/calls`` per call (CLIENT_NAIVE_CALLS, 1,000, timed the same way). Then how long
   ``close()`` takes to deliver what is queued, and a check that every call is stored once.
2. **OTLP ingest.** OTLP_SPANS (20,000) GenAI chat spans sent as protobuf exports of
   OTLP_SPANS_PER_EXPORT (1,000) to ``POST /v1/traces`` (what an OpenTelemetry SDK's batch exporter
   sends), against the same calls as ``POST /api/calls/batch`` bodies of the same size: calls/s
   each, one client, and a check that both stored every call.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

from bench.service import fresh_service


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _post(base: str, key: str, path: str, body: bytes, content_type: str = "application/json") -> int:
    request = urllib.request.Request(base + path, data=body, method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=300) as response:
        response.read()
        return response.status


def _micros(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1e6:,.1f} µs, p99 {p99 * 1e6:,.1f} µs, max {ordered[-1] * 1e6:,.1f} µs"


def _completion(n: int):
    from openai.types.chat import ChatCompletion

    return ChatCompletion.model_validate({
        "id": f"chatcmpl-bench-{n}", "object": "chat.completion", "created": 1_764_000_000, "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": 1_200 + n % 500, "completion_tokens": 300 + n % 200, "total_tokens": 1_500 + n % 700,
                  "prompt_tokens_details": {"cached_tokens": 256}}})


def caller_path(base: str, key: str, engine) -> None:
    from ledger_client import LedgerClient

    calls, naive_calls = _int("CLIENT_CALLS", 20_000), _int("CLIENT_NAIVE_CALLS", 1_000)
    client = LedgerClient(base, key, company="bench-client", max_queue=calls + 1)
    samples = []
    tracked = 0.0
    for n in range(calls):
        # Each response made just before it is tracked and let go after, as in a service: the
        # caller's heap holds what the client queued, not 20,000 responses for the GC to walk.
        response = _completion(n)
        start = time.perf_counter()
        client.track(response, user=f"u{n % 97}", assistant="bench", endpoint="/chat")
        samples.append(time.perf_counter() - start)
        tracked += samples[-1]
    closing = time.perf_counter()
    delivered = client.close(timeout=600)
    closed = time.perf_counter() - closing
    stats = client.stats()
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM llm_call_log WHERE company_id = 'bench-client'")).scalar()

    naive = []
    now = datetime.now(UTC)
    for n in range(naive_calls):
        body = json.dumps({"provider": "openai", "model": "gpt-4o-2024-08-06", "companyId": "bench-naive",
                           "userId": f"u{n % 97}", "assistantId": "bench", "endpoint": "/chat",
                           "usage": _completion(n).usage.model_dump(), "usageFormat": "openai-chat",
                           "timestamp": now.isoformat(), "requestId": f"naive-{n}"}).encode()
        start = time.perf_counter()
        _post(base, key, "/api/calls", body)
        naive.append(time.perf_counter() - start)

    print(f"Caller's path, {calls:,} real openai ChatCompletion objects:")
    print(f"  LedgerClient.track():        {_micros(samples)}  ({calls / tracked:,.0f} calls/s on one thread; "
          f"{sum(sample > 0.001 for sample in samples)} over 1 ms)")
    print(f"  naive POST /api/calls each:  {_micros(naive)}  ({naive_calls:,} calls, synchronous)")
    print(f"  track() p50 is {statistics.median(naive) / statistics.median(samples):,.0f}× less of the caller's time")
    print(f"  close(): every queued call delivered in {closed:.1f} s ({delivered=}); stats {stats}")
    print(f"  stored: {stored:,} of {calls:,} ({'every call once' if stored == calls else 'MISMATCH'})")


def otlp_against_batch(base: str, key: str, engine) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

    spans, per_export = _int("OTLP_SPANS", 20_000), _int("OTLP_SPANS_PER_EXPORT", 1_000)
    start = datetime.now(UTC) - timedelta(minutes=5)
    nanos = int(start.timestamp() * 1e9)

    def attribute(name: str, value) -> KeyValue:
        any_value = AnyValue(int_value=value) if isinstance(value, int) else AnyValue(string_value=value)
        return KeyValue(key=name, value=any_value)

    exports, batches = [], []
    for first in range(0, spans, per_export):
        chunk = range(first, min(spans, first + per_export))
        exports.append(ExportTraceServiceRequest(resource_spans=[ResourceSpans(
            resource=Resource(attributes=[attribute("service.name", "bench-otlp"),
                                          attribute("ledger.company_id", "bench-otlp")]),
            scope_spans=[ScopeSpans(spans=[Span(
                trace_id=(n // per_export + 1).to_bytes(16, "big"), span_id=(n + 1).to_bytes(8, "big"),
                name="chat gpt-4o", kind=Span.SPAN_KIND_CLIENT, start_time_unix_nano=nanos + n * 1_000_000,
                end_time_unix_nano=nanos + n * 1_000_000 + 800_000_000,
                attributes=[attribute("gen_ai.operation.name", "chat"), attribute("gen_ai.provider.name", "openai"),
                            attribute("gen_ai.request.model", "gpt-4o"),
                            attribute("gen_ai.response.model", "gpt-4o-2024-08-06"),
                            attribute("gen_ai.usage.input_tokens", 1_200 + n % 500),
                            attribute("gen_ai.usage.output_tokens", 300 + n % 200),
                            attribute("enduser.id", f"u{n % 97}")]) for n in chunk])])]).SerializeToString())
        batches.append(json.dumps({"calls": [{
            "provider": "openai", "model": "gpt-4o-2024-08-06", "companyId": "bench-batch", "userId": f"u{n % 97}",
            "assistantId": "bench-otlp", "inputTokens": 1_200 + n % 500, "outputTokens": 300 + n % 200,
            "durationMs": 800, "timestamp": (start + timedelta(milliseconds=n)).isoformat(),
            "requestId": f"batch-{n}"} for n in chunk]}).encode())

    def timed(bodies: list[bytes], path: str, content_type: str) -> float:
        began = time.perf_counter()
        for body in bodies:
            _post(base, key, path, body, content_type)
        return time.perf_counter() - began

    otlp = timed(exports, "/v1/traces", "application/x-protobuf")
    batch = timed(batches, "/api/calls/batch", "application/json")
    with engine.connect() as connection:
        counts = dict(connection.execute(text(
            "SELECT company_id, count(*) FROM llm_call_log WHERE company_id IN ('bench-otlp', 'bench-batch') "
            "GROUP BY 1")).all())
    print(f"OTLP ingest, {spans:,} GenAI chat spans in exports of {per_export:,} (protobuf), one client:")
    print(f"  POST /v1/traces:        {spans / otlp:,.0f} calls/s ({otlp:.1f} s), stored {counts.get('bench-otlp', 0):,}")
    print(f"  POST /api/calls/batch:  {spans / batch:,.0f} calls/s ({batch:.1f} s), stored {counts.get('bench-batch', 0):,}"
          f"  — the same calls as JSON batches of {per_export:,}")
    print(f"  OTLP takes {otlp / batch:.2f}× the batch API's time")


def main() -> int:
    with fresh_service("bench-clients", "ingest,read") as service:
        engine = create_engine(service.database_url)
        caller_path(service.base, service.key, engine)
        otlp_against_batch(service.base, service.key, engine)
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
