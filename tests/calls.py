"""Shared test helper: store one call through the real ingest endpoint."""

from __future__ import annotations

TS = "2026-03-05T10:00:00+00:00"


def post_call(client, *, company: str = "comp_1", timestamp: str = TS, **fields) -> dict:
    """POST /api/calls with a gpt-4o call (1,000 in, 500 out) unless `fields` say otherwise; 201 or fail."""
    body = {"provider": "openai", "model": "gpt-4o", "inputTokens": 1000, "outputTokens": 500,
            "companyId": company, "timestamp": timestamp} | fields
    response = client.post("/api/calls", json=body)
    assert response.status_code == 201, response.json
    return response.json
