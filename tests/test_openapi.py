"""The OpenAPI document is generated from the same schemas that validate requests."""

EXPECTED_PATHS = {
    "/api/calls": "post",
    "/api/calls/batch": "post",
    "/api/costs/summary": "get",
    "/api/costs/daily": "get",
    "/api/costs": "get",
    "/api/costs/by-assistant/{assistant_id}": "get",
    "/api/costs/by-model/{model}": "get",
    "/analytics/cost/user/{user_id}": "get",
    "/analytics/cost/total": "get",
    "/api/prices": "get",
    "/api/prices/overrides": "post",
    "/api/budgets": "post",
    "/api/budgets/{budget_id}": "patch",
    "/api/budgets/status": "get",
    "/api/budgets/check": "get",
    "/api/budgets/{budget_id}/forecast": "get",
    "/api/alerts": "get",
    "/api/insight/trends": "get",
    "/api/insight/top": "get",
    "/api/insight/peaks": "get",
    "/api/insight/forecast": "get",
    "/api/insight/anomalies": "get",
    "/healthz": "get",
}


def test_openapi_lists_every_route(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json
    assert spec["openapi"].startswith("3.")
    for path, method in EXPECTED_PATHS.items():
        assert method in spec["paths"].get(path, {}), f"{method.upper()} {path} missing from the spec"


def test_request_schema_documents_camel_case_fields_and_requirements(client):
    schemas = client.get("/openapi.json").json["components"]["schemas"]
    call_in = schemas["CallIn"]
    assert set(call_in["required"]) == {"provider", "model"}  # token counts or a native `usage` object
    assert {"usage", "usageFormat", "serviceTier", "reasoningTokens", "cacheWrite1hTokens"} <= set(
        call_in["properties"])
    assert call_in["properties"]["inputTokens"]["minimum"] == 0
    assert call_in["additionalProperties"] is False
    assert schemas["CallOut"]["properties"]["totalCost"]["type"] == "string"
    assert schemas["CallBatchIn"]["properties"]["calls"]["maxItems"] == 10_000


def test_override_body_documents_prices_as_exact_strings(client):
    schemas = client.get("/openapi.json").json["components"]["schemas"]
    override_in = schemas["OverrideIn"]
    assert set(override_in["required"]) == {"provider", "model", "validFrom"}
    assert override_in["properties"]["cacheWrite1hPerMtok"]["type"] == "string"
    assert override_in["additionalProperties"] is False
    assert schemas["Price"]["properties"]["inputPerMtok"]["format"] == "decimal"


def test_the_spec_documents_the_api_key_and_what_needs_none(client):
    spec = client.get("/openapi.json").json
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]["apiKey"]["description"]}
    assert spec["security"] == [{"apiKey": []}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert "differs" in spec["components"]["schemas"]["CallOut"]["properties"]


def test_the_spec_says_gunicorn_may_answer_414_in_html(client):
    spec = client.get("/openapi.json").json
    for path in ("/api/calls", "/api/costs/summary", "/api/budgets/{budget_id}"):
        for method, operation in spec["paths"][path].items():
            if method != "parameters":  # the path's own parameters, not an operation
                assert "text/html" in operation["responses"]["414"]["content"]


def test_every_bound_in_the_document_is_a_number(client):
    """JSON Schema's minimum and maximum are numbers: a Decimal bound written as a string breaks
    clients and fuzzers that read the document (Schemathesis found one in the anomalies query)."""
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            found.extend(f"{where}: {key} {node[key]!r}" for key in ("minimum", "maximum")
                         if key in node and not isinstance(node[key], (int, float)))
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]")

    walk(client.get("/openapi.json").json, "")
    assert found == []
