"""API keys and tenants: every endpoint needs a key with the right scope, and a key bound to a
company sees and writes that company only, whatever it asks for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

NOW = datetime.now(UTC).replace(microsecond=0)
# Two companies with the same user, assistant, model and endpoint names and different spend.
USERS, ASSISTANTS, MODELS, ENDPOINTS = ["ana", "bo"], ["helper", "coder"], ["gpt-4o", "claude-sonnet-4-5"], \
    ["/chat", "/code"]


def calls(company: str, scale: int) -> list[dict]:
    out = []
    for n in range(12):
        out.append({"provider": "anthropic" if n % 2 else "openai", "model": MODELS[n % 2],
                    "inputTokens": 1000 * scale * (n + 1), "outputTokens": 100 * scale,
                    "companyId": company, "userId": USERS[n % 2], "assistantId": ASSISTANTS[(n // 2) % 2],
                    "endpoint": ENDPOINTS[(n // 3) % 2], "success": n % 5 != 0,
                    "timestamp": (NOW - timedelta(hours=n + 1)).isoformat(), "metadata": {"team": "core"}})
    return out


@pytest.fixture
def tenants(client, make_client):
    for company, scale in (("acme", 1), ("globex", 7)):
        stored = client.post("/api/calls/batch", json={"calls": calls(company, scale)})
        assert stored.status_code == 200, stored.json
    return {"platform": client, "acme": make_client("acme", "ingest,read"), "globex": make_client("globex", "read")}


START, END = (NOW - timedelta(days=29)).date().isoformat(), NOW.date().isoformat()
DATES = f"startDate={START}&endDate={END}"
FILTERS = ["", "userId=ana", "assistantId=helper", "model=gpt-4o", "provider=anthropic", "success=false",
           "endpoint=/code", f"startDate={(NOW - timedelta(days=1)).date()}", "userId=bo&model=claude-sonnet-4-5"]
READS = [
    f"/api/costs/summary?{DATES}",
    f"/api/costs/summary?{DATES}&top=1",
    f"/api/costs/daily?{DATES}",
    *(f"/api/costs/breakdown?by={by}&{DATES}" for by in ("user", "assistant", "model", "provider", "endpoint")),
    *(f"/api/costs?{f}" for f in FILTERS),
    *(f"/api/costs/by-assistant/{a}?{DATES}" for a in ASSISTANTS),
    *(f"/api/costs/by-model/{m}?{DATES}" for m in MODELS),
    *(f"/analytics/cost/user/{u}?{DATES}" for u in USERS),
    "/analytics/cost/total",
    "/api/prices?model=gpt-4o&provider=openai",
]


def _with(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


@pytest.mark.parametrize("url", READS)
def test_a_company_key_reads_exactly_what_a_platform_key_reads_for_that_company(tenants, url):
    platform, acme = tenants["platform"], tenants["acme"]
    mine = acme.get(url)
    assert mine.status_code == 200, mine.json
    assert mine.json == platform.get(_with(url, "companyId=acme")).json  # its company's answer …
    if "/api/prices" not in url:  # (prices: the same catalog rows for both, neither has overrides)
        assert mine.json != platform.get(_with(url, "companyId=globex")).json  # … never the other's
    assert acme.get(_with(url, "companyId=acme")).json == mine.json  # naming its own company changes nothing


@pytest.mark.parametrize("url", READS)
def test_a_company_key_asking_for_another_company_is_a_403(tenants, url):
    r = tenants["acme"].get(_with(url, "companyId=globex"))
    assert r.status_code == 403 and "bound to company 'acme'" in r.json["message"]


def test_a_company_key_never_sees_another_companys_records(tenants):
    for who in ("acme", "globex"):
        records = tenants[who].get("/api/costs?limit=1000").json["records"]
        assert records and {r["companyId"] for r in records} == {who}
    total = tenants["acme"].get("/analytics/cost/total").json
    everyone = tenants["platform"].get("/analytics/cost/total").json
    assert total["calls"] == 12 and everyone["calls"] == 24


def test_a_company_key_writes_for_its_company_only(tenants):
    acme = tenants["acme"]
    body = calls("acme", 1)[0] | {"requestId": "t-1"}
    del body["companyId"]
    stored = acme.post("/api/calls", json=body)
    assert stored.status_code == 201 and stored.json["companyId"] == "acme"  # the key's company by default
    other = acme.post("/api/calls", json=body | {"companyId": "globex", "requestId": "t-2"})
    assert other.status_code == 403
    batch = acme.post("/api/calls/batch", json={"calls": [body | {"requestId": "t-3"},
                                                          body | {"requestId": "t-4", "companyId": "globex"}]})
    assert batch.status_code == 403
    records = tenants["platform"].get("/api/costs?limit=1000").json["records"]
    assert {r["requestId"] for r in records} & {"t-1", "t-2", "t-3", "t-4"} == {"t-1"}  # nothing else stored


def test_a_platform_key_writes_the_default_company_when_none_is_named(tenants):
    body = calls("x", 1)[0]
    del body["companyId"]
    assert tenants["platform"].post("/api/calls", json=body).json["companyId"] == "default"


@pytest.mark.parametrize(("scopes", "method", "url", "status"), [
    ("read", "POST", "/api/calls", 403),
    ("read", "POST", "/api/calls/batch", 403),
    ("read", "POST", "/api/prices/overrides", 403),
    ("ingest", "GET", "/api/costs/summary", 403),
    ("ingest", "GET", "/api/prices", 403),
    ("ingest", "GET", "/api/dimensions", 403),
    ("ingest,read", "POST", "/api/prices/overrides", 403),
    ("admin", "GET", "/api/costs", 403),
])
def test_a_key_without_the_scope_is_a_403(make_client, scopes, method, url, status):
    r = make_client(None, scopes).open(url, method=method, json={})
    assert r.status_code == status and "scope" in r.json["message"]


@pytest.mark.parametrize(("method", "url"), [
    ("POST", "/api/calls"), ("POST", "/api/calls/batch"), ("GET", "/api/costs/summary"), ("GET", "/api/costs"),
    ("GET", "/api/costs/daily"), ("GET", "/api/costs/breakdown?by=user"), ("GET", "/api/costs/by-assistant/a"),
    ("GET", "/api/costs/by-model/gpt-4o"), ("GET", "/analytics/cost/user/u"), ("GET", "/analytics/cost/total"),
    ("GET", "/api/dimensions"), ("GET", "/api/prices"), ("POST", "/api/prices/overrides"), ("GET", "/api/budgets"),
    ("GET", "/api/budgets/check?companyId=acme"), ("GET", "/api/budgets/status"), ("GET", "/api/alerts"),
])
@pytest.mark.parametrize("authorization", [None, "Bearer llm_00000000_wrong", "Basic dXNlcjpwYXNz", "Bearer "])
def test_without_a_valid_key_every_endpoint_is_a_401(app, method, url, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    r = app.test_client().open(url, method=method, json={}, headers=headers)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")


def test_health_and_the_api_description_need_no_key(app):
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/openapi.json").status_code == 200


def test_a_revoked_key_is_refused(app, make_client, runner):
    acme = make_client("acme", "read")
    assert acme.get("/api/costs").status_code == 200
    listed = runner.invoke(args=["costs", "keys", "list"])
    [line] = [line for line in listed.output.splitlines() if "tests acme read" in line]
    key_id = line.split()[0]
    assert runner.invoke(args=["costs", "keys", "revoke", key_id]).exit_code == 0
    app.extensions["ledger_keys"].forget()  # each process remembers a key for up to 10 s
    assert acme.get("/api/costs").status_code == 401


def test_keys_create_prints_the_key_last_and_it_works(app, runner):
    made = runner.invoke(args=["costs", "keys", "create", "--company", "acme", "--scopes", "read", "--name", "bi"])
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    assert secret.startswith("llm_")
    client = app.test_client()
    assert client.get("/api/costs", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listed = runner.invoke(args=["costs", "keys", "list"]).output
    assert "bi" in listed and secret not in listed  # never shown again
    bad = runner.invoke(args=["costs", "keys", "create", "--scopes", "read,root"])
    assert bad.exit_code == 2 and "root" in bad.output


def test_company_keys_manage_their_companys_overrides_only(make_client):
    admin = make_client("acme", "read,admin")
    body = {"provider": "openai", "model": "gpt-4o", "validFrom": "2026-03-01", "inputPerMtok": "1"}
    mine = admin.post("/api/prices/overrides", json=body)
    assert mine.status_code == 201 and mine.json["companyId"] == "acme"
    assert admin.post("/api/prices/overrides", json=body | {"companyId": None}).status_code == 403
    assert admin.post("/api/prices/overrides", json=body | {"companyId": "globex"}).status_code == 403
    listed = make_client("globex", "read").get("/api/prices?model=gpt-4o&provider=openai").json["prices"]
    assert all(p["companyId"] != "acme" for p in listed)
