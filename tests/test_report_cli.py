"""`flask costs report` through Flask's CLI runner, on the same rolled-back transaction as the app."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

SINCE_UNTIL = ["--since", "2026-03-01", "--until", "2026-03-07"]


@pytest.fixture
def seeded(client):
    def call(timestamp, **overrides):
        return {"provider": "openai", "model": "gpt-4o", "inputTokens": 1000, "outputTokens": 500,
                "companyId": "c1", "userId": "u1", "timestamp": timestamp} | overrides

    calls = [
        call("2026-03-05T10:00:00+00:00", endpoint="/chat"),  # 0.0075
        call("2026-03-06T09:00:00+00:00", userId="u2", inputTokens=2000, outputTokens=1000),  # 0.015
        call("2026-03-06T23:59:59+00:00", model="gpt-4o-mini", outputTokens=1000, companyId="c2"),  # 0.00075
        call("2026-03-07T12:00:00+00:00", provider="acme", model="mystery-model", success=False),  # unpriced
        call("2026-03-08T00:00:00+00:00"),  # the day after --until: not counted
    ]
    r = client.post("/api/calls/batch", json={"calls": calls})
    assert r.status_code == 200, r.json


def report(runner, *args):
    result = runner.invoke(args=["costs", "report", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_csv_by_user(runner, seeded):
    rows = list(csv.reader(io.StringIO(report(runner, *SINCE_UNTIL, "--by", "user", "--format", "csv"))))
    assert rows == [["user", "cost", "tokens", "calls", "failures", "unpriced"],
                    ["u2", "0.015", "3000", "1", "0", "0"],
                    ["u1", "0.00825", "5000", "3", "1", "1"]]


def test_json_by_model_keeps_money_exact(runner, seeded):
    body = json.loads(report(runner, *SINCE_UNTIL, "--format", "json"))
    assert body["by"] == "model" and (body["since"], body["until"]) == ("2026-03-01", "2026-03-07")
    assert body["rows"] == [
        {"key": "gpt-4o", "cost": "0.0225", "tokens": 4500, "calls": 2, "failures": 0, "unpriced": 0},
        {"key": "gpt-4o-mini", "cost": "0.00075", "tokens": 2000, "calls": 1, "failures": 0, "unpriced": 0},
        {"key": "mystery-model", "cost": None, "tokens": 1500, "calls": 1, "failures": 1, "unpriced": 1},
    ]
    assert body["other"] == {"keys": 0, "cost": "0", "tokens": 0, "calls": 0, "failures": 0, "unpriced": 0}
    assert body["total"] == {"cost": "0.02325", "tokens": 8000, "calls": 4, "failures": 1, "unpriced": 1}


def test_table_has_a_total_line(runner, seeded):
    lines = report(runner, *SINCE_UNTIL, "--by", "provider").splitlines()
    assert lines[0].split() == ["provider", "cost", "tokens", "calls", "failures", "unpriced"]
    assert [line.split() for line in lines[2:-1]] == [["openai", "0.02325", "6500", "3", "0", "0"],
                                                      ["acme", "(unpriced)", "1500", "1", "1", "1"],
                                                      ["TOTAL", "0.02325", "8000", "4", "1", "1"]]
    assert lines[-1].startswith("1 calls had no price")


def test_table_names_calls_without_a_key(runner, seeded):
    lines = report(runner, *SINCE_UNTIL, "--by", "endpoint").splitlines()
    assert [line.split() for line in lines[2:-1]] == [["(none)", "0.01575", "6500", "3", "1", "1"],
                                                      ["/chat", "0.0075", "1500", "1", "0", "0"],
                                                      ["TOTAL", "0.02325", "8000", "4", "1", "1"]]


def test_top_rows_and_the_rest_in_one_line(runner, seeded):
    lines = report(runner, *SINCE_UNTIL, "--by", "model", "--top", "1").splitlines()
    assert [line.split() for line in lines[2:-1]] == [["gpt-4o", "0.0225", "4500", "2", "0", "0"],
                                                      ["(other:", "2)", "0.00075", "3500", "2", "1", "1"],
                                                      ["TOTAL", "0.02325", "8000", "4", "1", "1"]]
    rows = list(csv.reader(io.StringIO(report(runner, *SINCE_UNTIL, "--top", "0", "--format", "csv"))))
    assert len(rows) == 4  # the header and every model


def test_by_day_lists_days_in_order(runner, seeded):
    rows = list(csv.reader(io.StringIO(report(runner, *SINCE_UNTIL, "--by", "day", "--format", "csv"))))
    assert [row[:3] for row in rows] == [["day", "cost", "tokens"], ["2026-03-05", "0.0075", "1500"],
                                         ["2026-03-06", "0.01575", "5000"], ["2026-03-07", "", "1500"]]


def test_by_day_over_two_months_has_the_days_of_the_daily_series(runner, client, seeded):
    client.post("/api/calls", json={"provider": "openai", "model": "gpt-4o", "inputTokens": 1000, "outputTokens": 500,
                                    "companyId": "c1", "timestamp": "2026-02-27T10:00:00+00:00"})
    rows = list(csv.reader(io.StringIO(report(runner, "--since", "2026-02-20", "--until", "2026-03-07", "--by", "day",
                                              "--format", "csv"))))
    days = client.get("/api/costs/daily?startDate=2026-02-20&endDate=2026-03-07").json["days"]
    assert [row[:4] for row in rows[1:]] == [[d["date"], d["cost"] if d["cost"] != "0" else "", str(d["tokens"]),
                                              str(d["calls"])] for d in days if d["calls"]]
    assert [row[0] for row in rows[1:]] == ["2026-02-27", "2026-03-05", "2026-03-06", "2026-03-07"]


def test_company_filter(runner, seeded):
    body = json.loads(report(runner, *SINCE_UNTIL, "--company", "c2", "--format", "json"))
    assert [(row["key"], row["cost"]) for row in body["rows"]] == [("gpt-4o-mini", "0.00075")]


def test_defaults_are_the_last_30_days_by_model(runner, client):
    today = datetime.now(UTC).replace(microsecond=0)
    r = client.post("/api/calls", json={"provider": "openai", "model": "gpt-4o", "inputTokens": 1000,
                                        "outputTokens": 500, "timestamp": today.isoformat()})
    assert r.status_code == 201, r.json
    body = json.loads(report(runner, "--format", "json"))
    assert body["until"] == today.date().isoformat()
    assert body["since"] == (today.date() - timedelta(days=29)).isoformat()
    assert body["by"] == "model" and body["rows"][0]["key"] == "gpt-4o" and body["total"]["calls"] == 1
    assert report(runner).splitlines()[2].split()[:2] == ["gpt-4o", "0.0075"]


def test_empty_report_prints_a_zero_total(runner):
    lines = report(runner, *SINCE_UNTIL).splitlines()
    assert lines[-1].split() == ["TOTAL", "0", "0", "0", "0", "0"]


@pytest.mark.parametrize(("args", "message"), [
    (["--by", "colour"], "--by"),
    (["--format", "xml"], "--format"),
    (["--since", "2026-02-30"], "--since"),
    (["--since", "2026-03-08", "--until", "2026-03-07"], "--since"),
])
def test_bad_options_are_usage_errors(runner, args, message):
    result = runner.invoke(args=["costs", "report", *args])
    assert result.exit_code == 2
    assert message in result.output
