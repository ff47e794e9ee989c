"""The benchmark's floor app answers single calls as the service does, without a database."""

from bench.floor import create_app


def test_the_floor_validates_and_answers_like_the_service():
    client = create_app().test_client()
    answer = client.post("/api/calls", json={"provider": "openai", "model": "gpt-4o", "inputTokens": 1200,
                                              "outputTokens": 300, "requestId": "floor-1"})
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["model"] == "gpt-4o" and body["totalTokens"] == 1500 and body["requestId"] == "floor-1"
    assert body["priced"] is False and body["totalCost"] is None
    refused = client.post("/api/calls", json={"provider": "openai", "model": "gpt-4o", "inputTokens": -1})
    assert refused.status_code == 400 and "inputTokens" in refused.get_json()["errors"]["json"]
    assert client.get("/healthz").status_code == 200
