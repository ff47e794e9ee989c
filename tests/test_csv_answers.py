"""`format=csv` on record listings and breakdowns: the JSON answer's rows and values, one line each
under a header of its keys; formulas defused; pagination in headers; scoped by the key's company."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.calls import post_call

DATES = "startDate=2026-03-01&endDate=2026-03-31"


def rows(answer) -> list[dict[str, str]]:
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))


def text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@pytest.fixture
def calls(client):
    post_call(client, userId="alice", metadata={"project": "x", "tags": [1, 2]})
    post_call(client, userId="=HYPERLINK(\"http://evil\")", model="gpt-4o-mini")
    post_call(client, company="other", userId="mallory")


def test_records_as_csv_are_the_json_records(client, calls):
    as_json = client.get(f"/api/costs?{DATES}&companyId=comp_1").json
    answer = client.get(f"/api/costs?{DATES}&companyId=comp_1&format=csv")
    lines = rows(answer)
    assert list(lines[0]) == list(as_json["records"][0])  # the same keys, in the same order
    evil = [line for line in lines if "HYPERLINK" in line["userId"]]
    assert evil[0]["userId"].startswith("'=")  # a formula is not run by a spreadsheet
    for line, record in zip(lines, as_json["records"], strict=True):
        expected = {key: text(value) for key, value in record.items()}
        if record["userId"].startswith("="):
            expected["userId"] = "'" + record["userId"]
        assert line == expected
    assert (answer.headers["X-Total-Count"], answer.headers["X-Total-Exact"], answer.headers["X-Page"]) == (
        "2", "true", "1 of 1")


def test_a_breakdown_as_csv_is_its_entries(client, calls):
    as_json = client.get(f"/api/costs/breakdown?by=model&{DATES}&companyId=comp_1").json
    lines = rows(client.get(f"/api/costs/breakdown?by=model&{DATES}&companyId=comp_1&format=csv"))
    assert [line["key"] for line in lines] == [entry["key"] for entry in as_json["entries"]] == ["gpt-4o",
                                                                                               "gpt-4o-mini"]
    assert lines[0]["cost"] == as_json["entries"][0]["cost"] == "0.0075"


def test_a_company_key_gets_its_company_only_in_csv(make_client, calls):
    other = make_client("other", "read")
    lines = rows(other.get(f"/api/costs?{DATES}&format=csv"))
    assert [line["userId"] for line in lines] == ["mallory"]
    assert other.get(f"/api/costs?{DATES}&format=csv&companyId=comp_1").status_code == 403


def test_an_unknown_format_is_a_400_naming_it(client):
    answer = client.get(f"/api/costs?{DATES}&format=xml")
    assert answer.status_code == 400 and "format" in answer.json["errors"]["query"]


def test_the_api_document_offers_both_answers(client):
    paths = client.get("/openapi.json").json["paths"]
    for path, schema in (("/api/costs", "CallPage"), ("/api/costs/breakdown", "BreakdownPage")):
        ok = paths[path]["get"]["responses"]["200"]
        assert ok["description"] and ok["content"]["application/json"]["schema"]["$ref"].endswith(schema)
        assert ok["content"]["text/csv"]["schema"] == {"type": "string"}
