"""The orjson provider writes what Flask's own would (parsed back, value for value), and falls back to
it for what orjson will not write."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from app.api.json_provider import FastJSONProvider


@dataclass
class Point:
    x: int
    when: date


APP = Flask(__name__)  # providers hold their app weakly


def providers():
    fast, stock = FastJSONProvider(APP), DefaultJSONProvider(APP)
    fast.sort_keys = stock.sort_keys = False
    return fast, stock


def test_same_values_as_flask_writes():
    fast, stock = providers()
    payload = {"money": Decimal("0.000000000000000001"), "day": date(2026, 3, 5),
               "moment": datetime(2026, 3, 5, 10, tzinfo=UTC), "id": uuid.UUID(int=7), "point": Point(1, date(2026, 1, 1)),
               1: "int key", "text": "naïve ✓", "nested": [{"a": None, "b": True, "c": 1.5}]}
    assert json.loads(fast.dumps(payload)) == json.loads(stock.dumps(payload))
    with APP.app_context():
        assert json.loads(fast.response(payload).get_data()) == json.loads(stock.response(payload).get_data())


def test_a_lone_surrogate_goes_through_flask_s_own_writer():
    fast, stock = providers()
    assert fast.dumps({"model": "\ud800"}) == stock.dumps({"model": "\ud800"})
