"""Answers as CSV (`format=csv` on record listings and breakdowns): the same rows and values the
JSON answer gives — its keys as the header, money as the same exact decimal strings, nested values
(metadata, lists) as JSON text, null as an empty cell.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula: such a text
cell (a user id, say) is written with a leading ``'``; numbers and money are written as they are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import flask
import orjson



def doc(json_schema: str, description: str) -> dict[str, Any]:
    """The OpenAPI 200 of an operation that answers JSON (`json_schema`, a component's name) or CSV,
    for ``bp.doc(**doc(...))``: a manual 200 replaces the generated one, so it says everything."""
    return {"responses": {"200": {"description": description, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{json_schema}"}},
        "text/csv": {"schema": {"type": "string"}}}}}}
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def response(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], *, filename: str,
             headers: Mapping[str, str] | None = None) -> flask.Response:
    """A text/csv answer: a header of `columns`, then one line per row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([_cell(row.get(column)) for column in columns] for row in rows)
    return flask.Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'inline; filename="{filename}"', **(headers or {})})
