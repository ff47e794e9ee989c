"""Text PostgreSQL cannot store (NUL, lone surrogates) and bodies that are not JSON: 4xx naming
where, before anything runs — never a 500, and nothing stored."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.models import LlmCall

CALL = {"provider": "openai", "model": "gpt-4o", "inputTokens": 10, "outputTokens": 5, "companyId": "acme",
        "timestamp": "2026-03-05T10:00:00+00:00"}


def _raw(client, path, text, content_type="application/json"):
    return client.post(path, data=text.encode("utf-8", "surrogatepass"), content_type=content_type)


def _stored(session) -> int:
    return session.scalar(select(func.count()).select_from(LlmCall))


@pytest.mark.parametrize("escape", ["\\u0000", "\\ud800", "\\udfff", "a\\u0000b"])
@pytest.mark.parametrize("field", ["model", "userId", "assistantName", "error", "requestId"])
def test_a_call_whose_text_postgres_cannot_store_is_a_400_naming_the_field(client, session, escape, field):
    body = json.dumps(CALL | {field: "x"}).replace('"x"', f'"{escape}"')
    r = _raw(client, "/api/calls", body)
    assert r.status_code == 400, r.json
    assert field in r.json["errors"]["json"]
    assert _stored(session) == 0


def test_in_a_batch_the_bad_text_is_named_by_its_place(client, session):
    body = json.dumps({"calls": [CALL, CALL | {"metadata": {"team": "x"}}]}).replace('"x"', '"\\u0000"')
    r = _raw(client, "/api/calls/batch", body)
    assert r.status_code == 400 and list(r.json["errors"]["json"]) == ["calls.1.metadata.team"]
    key = json.dumps({"calls": [CALL | {"metadata": {"x": 1}}]}).replace('"x"', '"\\ud800"')
    r = _raw(client, "/api/calls/batch", key)
    assert r.status_code == 400 and "key" in r.json["message"].lower()
    assert _stored(session) == 0


def test_a_valid_surrogate_pair_and_other_unicode_are_stored(client, session):
    body = json.dumps(CALL | {"userId": "x"}).replace('"x"', '"\\ud83d\\ude00 \\u00e9t\\u00e9"')
    r = _raw(client, "/api/calls", body)
    assert r.status_code == 201 and r.json["userId"] == "😀 été"


@pytest.mark.parametrize("url", [
    "/api/costs/by-model/gpt%00x",
    "/api/costs/by-assistant/a%00",
    "/api/costs?userId=a%00b",
    "/api/costs?model=%00",
    "/api/costs/summary?companyId=%00",
    "/analytics/cost/user/u%00",
    "/api/costs?%00=1",
])
def test_a_nul_in_the_path_or_a_query_is_a_400(client, url):
    r = client.get(url)
    assert r.status_code == 400, (r.status_code, r.data[:200])
    assert "NUL" in r.json["message"]


def test_a_surrogate_encoded_in_a_url_is_not_an_error(client):
    # A URL cannot carry a lone surrogate: its UTF-8 bytes are invalid, and Werkzeug reads them as
    # U+FFFD in a path and leaves them percent-encoded in a query — storable text either way.
    assert client.get("/api/costs/by-model/a%ED%A0%80").status_code == 404  # a model with no calls
    assert client.get("/api/costs?model=%ED%A0%80").status_code == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_body_that_is_not_json_is_a_415(client, session, content_type):
    r = _raw(client, "/api/calls", json.dumps(CALL), content_type=content_type)
    assert r.status_code == 415 and "application/json" in r.json["message"]
    assert _stored(session) == 0


def test_json_with_a_charset_or_a_json_suffix_is_json(client):
    assert _raw(client, "/api/calls", json.dumps(CALL), "application/json; charset=utf-8").status_code == 201
    assert _raw(client, "/api/calls", json.dumps(CALL), "application/vnd.api+json").status_code == 201
