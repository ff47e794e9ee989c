def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200, r.json
    assert r.json["migration"]["upToDate"] is True


def test_ingest_one(client):
    r = client.post("/api/calls", json={"provider": "openai", "model": "gpt-4o", "inputTokens": 1000,
                                        "outputTokens": 500, "companyId": "c1", "requestId": "r1"})
    assert r.status_code == 201, r.json
    print(r.json)
    r2 = client.post("/api/calls", json={"provider": "openai", "model": "gpt-4o", "inputTokens": 1000,
                                         "outputTokens": 500, "companyId": "c1", "requestId": "r1"})
    assert r2.status_code == 200 and r2.json["duplicate"] and r2.json["id"] == r.json["id"]
