"""Checks every request passes before a handler sees it: text PostgreSQL can store, JSON bodies.

PostgreSQL's text cannot hold a NUL character, and a lone UTF-16 surrogate (``"\\ud800"`` in JSON)
is not text at all: both once reached the database and came back as 500s. Here they are a 400
naming where they were — the path, a query parameter or a field of the body (``calls.3.userId``)
— before anything runs. A body sent as something other than JSON is a 415, unless its endpoint reads
bodies of its own formats (:func:`raw_body`: OTLP's protobuf).
"""

from __future__ import annotations

import re
from typing import Any

import flask
from flask_smorest import abort

# Raw JSON that may hold a NUL or a surrogate: a NUL byte, or an escape of either. Bodies without
# one (nearly all) are not walked.
_SUSPECT = re.compile(rb"\x00|\\u(?:0000|[dD][89a-fA-F])")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def text_problem(value: str) -> str | None:
    """Why PostgreSQL could not store `value` as text; None when it can."""
    if "\x00" in value:
        return "Must not contain a NUL character (\\u0000)."
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "Must be valid Unicode text (a lone surrogate such as \\ud800 is not)."
    return None


def _walk(value: Any, path: str) -> tuple[str, str] | None:
    """The first string (key or value) in a parsed JSON value that PostgreSQL could not store."""
    if isinstance(value, str):
        problem = text_problem(value)
        return (path or "_schema", problem) if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and (problem := text_problem(key)):
                return where, "A key " + problem[0].lower() + problem[1:]
            if found := _walk(item, where):
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if found := _walk(item, f"{path}.{index}" if path else str(index)):
                return found
    return None


def first_text_problem(parsed: Any) -> tuple[str, str] | None:
    """(where, why) of the first string in `parsed` (key or value) PostgreSQL could not store."""
    return _walk(parsed, "")


def raw_body(view: Any) -> Any:
    """Mark a view that reads its body itself, in formats of its own: not held to JSON here."""
    view.raw_body = True
    return view


def check_json_text(raw: bytes, parsed: Any) -> None:
    """Abort with 400 when a body's text holds what PostgreSQL cannot store."""
    if _SUSPECT.search(raw) and (found := _walk(parsed, "")):
        field, problem = found
        abort(400, message=f"{field}: {problem}", errors={"json": {field: [problem]}})


def _check_request() -> None:
    request = flask.request
    if problem := text_problem(request.path):
        abort(400, message=f"The path: {problem}")
    for key, values in request.args.lists():
        for value in (key, *values):
            if problem := text_problem(value):
                abort(400, message=f"{key!r}: {problem}", errors={"query": {key: [problem]}})
    if request.method in _BODY_METHODS and (request.content_length or request.headers.get("Transfer-Encoding")) \
            and not request.is_json and not getattr(flask.current_app.view_functions.get(request.endpoint), "raw_body",
                                                    False):
        abort(415, message=f"The body must be JSON, sent with Content-Type: application/json "
                           f"(got {request.mimetype or 'no Content-Type'}).")


def register_guards(app: flask.Flask) -> None:
    app.before_request(_check_request)
