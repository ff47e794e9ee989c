"""`/api/budgets`: create, list, read, change and delete budgets — validated, scoped by the key's
company and scopes."""

from __future__ import annotations

import pytest

BODY = {"companyId": "acme", "period": "month", "timezone": "Europe/Berlin", "limit": "500.00",
        "thresholds": [80, 50, 100], "userId": None, "assistantId": None, "model": None, "endpoint": None,
        "webhookUrl": "https://hooks.example/ledger"}


def test_a_budget_is_created_read_changed_and_deleted(client):
    made = client.post("/api/budgets", json=BODY)
    assert made.status_code == 201, made.json
    budget = made.json
    assert budget["limit"] == "500" and budget["thresholds"] == [50, 80, 100] and budget["timezone"] == "Europe/Berlin"
    assert client.get(f"/api/budgets/{budget['id']}").json == budget
    assert [b["id"] for b in client.get("/api/budgets").json["budgets"]] == [budget["id"]]
    changed = client.patch(f"/api/budgets/{budget['id']}", json={"limit": "750.5", "model": "gpt-4o"})
    assert changed.status_code == 200 and (changed.json["limit"], changed.json["model"]) == ("750.5", "gpt-4o")
    assert client.delete(f"/api/budgets/{budget['id']}").status_code == 204
    assert client.get(f"/api/budgets/{budget['id']}").status_code == 404


def test_defaults(client):
    made = client.post("/api/budgets", json={"companyId": "acme", "period": "day", "limit": 10}).json
    assert (made["timezone"], made["thresholds"], made["userId"]) == ("UTC", [50, 80, 100], None)


@pytest.mark.parametrize(("change", "field"), [
    ({"period": "year"}, "period"),
    ({"limit": "0"}, "limit"),
    ({"limit": "-5"}, "limit"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"thresholds": []}, "thresholds"),
    ({"thresholds": [0]}, "thresholds"),
    ({"thresholds": ["50"]}, "thresholds"),
    ({"webhookUrl": "ftp://x"}, "webhookUrl"),
    ({"apiKeyId": 999999}, "apiKeyId"),
    ({"companyId": None}, "companyId"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_budget_is_a_400_naming_the_field_and_stores_nothing(client, change, field):
    r = client.post("/api/budgets", json=BODY | change)
    assert r.status_code == 400, r.json
    assert field in r.json["errors"]["json"]
    assert client.get("/api/budgets").json["budgets"] == []


def test_a_company_key_sees_and_changes_its_own_budgets_only(client, make_client):
    theirs = client.post("/api/budgets", json=BODY | {"companyId": "globex"}).json
    admin = make_client("acme", "read,admin")
    mine = admin.post("/api/budgets", json={k: v for k, v in BODY.items() if k != "companyId"})
    assert mine.status_code == 201 and mine.json["companyId"] == "acme"  # the key's company by default
    assert admin.post("/api/budgets", json=BODY | {"companyId": "globex"}).status_code == 403
    assert [b["id"] for b in admin.get("/api/budgets").json["budgets"]] == [mine.json["id"]]
    assert admin.get("/api/budgets?companyId=globex").status_code == 403
    for method in ("GET", "PATCH", "DELETE"):
        r = admin.open(f"/api/budgets/{theirs['id']}", method=method, json={"limit": "1"} if method == "PATCH" else None)
        assert r.status_code == 404, method  # another company's budget does not exist for this key
    assert client.get(f"/api/budgets/{theirs['id']}").json["limit"] == "500"


def test_reading_needs_read_and_changing_needs_admin(client, make_client):
    made = client.post("/api/budgets", json=BODY).json
    reader = make_client("acme", "read")
    assert reader.get("/api/budgets").status_code == 200
    assert reader.post("/api/budgets", json=BODY).status_code == 403
    assert reader.patch(f"/api/budgets/{made['id']}", json={"limit": "1"}).status_code == 403
    assert reader.delete(f"/api/budgets/{made['id']}").status_code == 403
    assert make_client("acme", "ingest").get("/api/budgets").status_code == 403


def test_a_budget_may_be_narrowed_to_a_key_of_its_company(client, make_client, session):
    from app.auth.keys import create_key

    key = create_key(session, name="checkout", company_id="acme", scopes="ingest").key
    other = create_key(session, name="other", company_id="globex", scopes="ingest").key
    session.commit()
    assert client.post("/api/budgets", json=BODY | {"apiKeyId": key.id}).status_code == 201
    assert client.post("/api/budgets", json=BODY | {"apiKeyId": other.id}).status_code == 400


def test_the_cli_creates_lists_and_deletes_budgets(runner):
    made = runner.invoke(args=["costs", "budgets", "create", "--company", "acme", "--period", "week", "--limit",
                               "120.50", "--timezone", "America/New_York", "--thresholds", "90,50", "--model",
                               "gpt-4o"])
    assert made.exit_code == 0, made.output
    assert "$120.5 per week (America/New_York), alerts at 50%, 90%" in made.output
    listed = runner.invoke(args=["costs", "budgets", "list", "--company", "acme"]).output
    assert "America/New_York" in listed and "model=gpt-4o" in listed
    budget_id = made.output.split()[1].rstrip(":")
    assert runner.invoke(args=["costs", "budgets", "delete", budget_id]).exit_code == 0
    assert "no budgets" in runner.invoke(args=["costs", "budgets", "list"]).output
    bad = runner.invoke(args=["costs", "budgets", "create", "--company", "acme", "--period", "month", "--limit",
                              "10", "--timezone", "Nowhere/Land"])
    assert bad.exit_code == 2 and "timezone" in bad.output


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_an_id_beyond_any_budget_is_a_404(client, method):
    r = client.open("/api/budgets/3559645688996788095805940736706215936", method=method,
                    json={"limit": "1"} if method == "PATCH" else None)
    assert r.status_code == 404
