"""OpenTelemetry ingest: OTLP/HTTP trace exports → the ledger's calls (``POST /v1/traces``).

- :mod:`app.otlp.wire` reads an export request (protobuf or OTLP JSON, gzip or not, bounded) and
  writes the answers (`ExportTraceServiceResponse`, `google.rpc.Status`);
- :mod:`app.otlp.spans` finds the spans that record GenAI model calls and maps each to a call in
  the ingest API's shape, following :mod:`app.otlp.conventions` (the GenAI semantic conventions'
  attribute names and providers) and the operator's :class:`app.config.OtlpMapping`.

The calls then take the ingest API's door: validated by its schema, written by the ledger in one
transaction per export (app.api.otlp). Nothing here imports Flask.
"""
