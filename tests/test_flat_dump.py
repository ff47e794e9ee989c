"""`FlatDump` answers exactly what the schema's own dump does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from marshmallow import Schema, fields

from app.schemas.calls import CallOutSchema
from app.schemas.flat import FlatDump

STORED = {
    "id": 7, "duplicate": False, "provider": "openai", "model": "gpt-4o", "input_tokens": 1200, "output_tokens": 0,
    "cached_input_tokens": 200, "cache_write_tokens": 0, "cache_write_1h_tokens": 0, "input_audio_tokens": 0,
    "cached_audio_tokens": 0, "reasoning_tokens": 0, "output_audio_tokens": 0, "total_tokens": 1200,
    "service_tier": "batch", "input_cost": Decimal("0.002750000000000000"), "output_cost": Decimal("0E-18"),
    "total_cost": Decimal("0.00275"), "priced": True, "price_id": 12, "duration_ms": 850, "success": True,
    "error": None, "user_id": "u@x", "endpoint": "/chat", "company_id": "c", "assistant_id": None,
    "assistant_name": "Ünïcode ✓", "timestamp": datetime(2026, 3, 5, 10, 0, 0, 123456, tzinfo=UTC),
    "recorded_at": datetime(2026, 3, 5, 12, tzinfo=timezone(timedelta(hours=2))), "request_id": "r-1",
    "metadata": {"trace": [1, {"a": None}]},
}
UNPRICED = STORED | {"input_cost": None, "output_cost": None, "total_cost": None, "priced": False, "price_id": None,
                     "duration_ms": None, "success": False, "error": "timeout", "metadata": {}}


@pytest.mark.parametrize("record", [STORED, UNPRICED, STORED | {"total_cost": Decimal("1E+3")}])
def test_calls_dump_as_the_schema_dumps_them(record):
    assert FlatDump(CallOutSchema(), skip=("budgets",)).many([record]) == CallOutSchema(exclude=("budgets",)).dump(
        [record], many=True)


def test_values_of_another_type_go_through_the_field():
    class Out(Schema):
        n = fields.Integer()
        s = fields.String()
        gone = fields.String()

    values = {"n": True, "s": 5}  # bool is an int to Python, not to the Integer field
    assert FlatDump(Out()).one(values) == Out().dump(values) == {"n": 1, "s": "5"}


def test_nested_schemas_are_refused():
    class Out(Schema):
        inner = fields.Nested(CallOutSchema)

    with pytest.raises(TypeError, match="flat schemas only"):
        FlatDump(Out())
