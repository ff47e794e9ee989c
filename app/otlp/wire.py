"""OTLP/HTTP's wire formats for traces: a request body → `ExportTraceServiceRequest`, and the answers.

Bodies are binary protobuf (``application/x-protobuf``) or OTLP's JSON (``application/json``: the
protobuf JSON mapping with lowerCamelCase names, except that trace and span ids are hex strings,
not base64), optionally compressed (``Content-Encoding: gzip`` or ``deflate``). A compressed body
is inflated to at most `limit` bytes — the bound every request body has — so a small body cannot
expand into a large one. Unknown fields are skipped, as the protocol requires of receivers.

Answers are in the request's format: an `ExportTraceServiceResponse` (with `partial_success` when
spans were rejected), or for an error a `google.rpc.Status` as the protocol asks (encoded here: it
is two fields, and its package is not a dependency of the ledger).
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (ExportTracePartialSuccess,
                                                                      ExportTraceServiceRequest,
                                                                      ExportTraceServiceResponse)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MEDIA_TYPES = {PROTOBUF: PROTOBUF, "application/protobuf": PROTOBUF, JSON: JSON}
ENCODINGS = ("gzip", "x-gzip", "deflate")  # inflated alike: zlib reads either header
# Nesting deeper than this (attribute values are arrays of arrays…) is refused, not recursed into.
MAX_DEPTH = 64


class WireError(ValueError):
    """A body that cannot be read; `status` is the HTTP answer (400, 413 or 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def media_type(content_type: str | None) -> str:
    """The body's format (:data:`PROTOBUF` or :data:`JSON`) from its media type; 415 otherwise."""
    found = MEDIA_TYPES.get((content_type or "").lower())
    if found is None:
        raise WireError(415, f"Send OTLP traces as {PROTOBUF} or {JSON} (got {content_type or 'no Content-Type'}).")
    return found


def decode(body: bytes, fmt: str, content_encoding: str | None, *, limit: int) -> ExportTraceServiceRequest:
    """The export request in `body` (format `fmt`, compressed as `content_encoding` says)."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ENCODINGS:
        body = inflate(body, limit=limit)
    elif encoding != "identity":
        raise WireError(415, f"Content-Encoding {content_encoding!r} is not supported: send gzip, deflate or none.")
    if fmt == PROTOBUF:
        try:
            return ExportTraceServiceRequest.FromString(body)
        except (DecodeError, RecursionError, ValueError) as exc:
            raise WireError(400, f"The body is not a protobuf ExportTraceServiceRequest ({exc}).") from None
    return _from_json(body)


def inflate(body: bytes, *, limit: int) -> bytes:
    """`body` decompressed (gzip or zlib, every member), refusing more than `limit` bytes of output."""
    out = bytearray()
    rest = body
    while True:
        inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 32)  # a gzip or a zlib header, detected
        try:
            out += inflater.decompress(rest, limit + 1 - len(out))  # never 0 (which means "no limit")
        except zlib.error as exc:
            raise WireError(400, f"The body is not valid gzip or deflate data ({exc}).") from None
        if len(out) > limit or inflater.unconsumed_tail:
            raise WireError(413, f"The decompressed body is larger than {limit:,} bytes.")
        if not inflater.eof:
            raise WireError(400, "The compressed body is truncated.")
        rest = inflater.unused_data
        if not rest:
            return bytes(out)


def _from_json(body: bytes) -> ExportTraceServiceRequest:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireError(400, f"The body is not JSON ({exc}).") from None
    if not isinstance(document, dict):
        raise WireError(400, "The body must be a JSON object (an OTLP ExportTraceServiceRequest).")
    _hex_ids_to_base64(document)
    try:
        return json_format.ParseDict(document, ExportTraceServiceRequest(), ignore_unknown_fields=True,
                                     max_recursion_depth=MAX_DEPTH)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise WireError(400, f"The body is not an OTLP JSON ExportTraceServiceRequest ({exc}).") from None


def _items(parent: Any, *names: str) -> list[Any]:
    """The list under the first of `names` in `parent` (a dict), or none."""
    if isinstance(parent, dict):
        for name in names:
            if isinstance(found := parent.get(name), list):
                return found
    return []


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """OTLP JSON writes trace and span ids in hex where the protobuf JSON mapping has base64: convert
    them in place, naming the field of a malformed one."""
    for r, resource in enumerate(_items(document, "resourceSpans", "resource_spans")):
        for s, scope in enumerate(_items(resource, "scopeSpans", "scope_spans")):
            for n, span in enumerate(_items(scope, "spans")):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{n}]"
                _convert(span, where, ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id"))
                for k, link in enumerate(_items(span, "links")):
                    _convert(link, f"{where}.links[{k}]", ("traceId", "trace_id", "spanId", "span_id"))


def _convert(holder: Any, where: str, names: tuple[str, ...]) -> None:
    if not isinstance(holder, dict):
        return
    for name in names:
        value = holder.get(name)
        if isinstance(value, str):
            try:
                holder[name] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            except (ValueError, binascii.Error):
                raise WireError(400, f"{where}.{name}: not a hex string ({value[:40]!r}).") from None


# Rejected spans named in an answer's error_message; the rest are counted.
NAMED = 10


def rejection(rejected: list[str]) -> str:
    """The error message of a partial success: how many spans were rejected, the first ones and why."""
    return (f"{len(rejected)} GenAI span(s) not stored: " + "; ".join(rejected[:NAMED])
            + (f"; and {len(rejected) - NAMED} more" if len(rejected) > NAMED else ""))


def answer(fmt: str, rejected: list[str]) -> bytes:
    """The `ExportTraceServiceResponse` body: `partial_success` only when spans were `rejected` (each
    a message saying which and why)."""
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.CopyFrom(ExportTracePartialSuccess(rejected_spans=len(rejected),
                                                                    error_message=_text(rejection(rejected))))
    if fmt == PROTOBUF:
        return response.SerializeToString()
    return json.dumps(json_format.MessageToDict(response)).encode("ascii")


# HTTP status → google.rpc.Code, for the Status of an error answer.
_RPC_CODES = {400: 3, 413: 3, 415: 3, 401: 16, 403: 7, 404: 5, 405: 12, 429: 8, 500: 13, 503: 14}


def status(fmt: str, http_status: int, message: str) -> bytes:
    """The `google.rpc.Status` body of an error answer: ``code`` (field 1) and ``message`` (field 2)."""
    code = _RPC_CODES.get(http_status, 2)  # 2: UNKNOWN
    if fmt != PROTOBUF:
        return json.dumps({"code": code, "message": _text(message)}).encode("ascii")
    text = _text(message).encode("utf-8")
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _text(message: str) -> str:
    """`message` as valid UTF-8 text (a lone surrogate becomes "?")."""
    return message.encode("utf-8", "replace").decode("utf-8")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
