"""`FastLoad`: a flat schema's ``load`` for thousands of plain items, and `FastList`, the list
field that uses it.

Marshmallow spends about 4 µs per field of an item in its generic machinery — most of a
10,000-call batch's validation. The schema stays the one truth: `FastLoad` reads its fields once
and checks each value the way the field would — exact type, length, range or choice — calling
the field's own ``deserialize`` for anything else (times, dicts); then it runs the schema's own
schema-level validators and post-load hook. Whatever it does not accept at a glance (a wrong
type, a value out of range, a missing required field, an unknown key) it hands back, and the
schema loads that item itself, so an error reads exactly as the schema writes it.
``tests/test_fast_load.py`` checks that both give the same result, item for item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate
from marshmallow.utils import missing

from app.schemas.fields import StrictBoolean, StrictInteger

_REFUSED = object()  # a value the quick checks do not accept: the schema must load the item


def _quick_check(field: fields.Field) -> Callable[[Any], Any] | None:
    """A check of one value, exactly as strict as `field` (returns the value, or _REFUSED); None
    when the field needs its own deserialisation."""
    if field.pre_load or field.post_load:  # type: ignore[attr-defined]
        return None
    validators = list(field.validators)
    kind = type(field)
    if kind is fields.String:
        base: type = str
    elif kind is StrictInteger:
        base = int  # exactly int: bool (an int subclass) is refused, as StrictInteger does
    elif kind is StrictBoolean:
        base = bool
    else:
        return None
    tests: list[Callable[[Any], bool]] = []
    for validator in validators:
        if type(validator) is validate.Length and validator.equal is None:
            low, high = validator.min, validator.max
            tests.append(lambda v, low=low, high=high: (low is None or len(v) >= low)
                         and (high is None or len(v) <= high))
        elif (type(validator) is validate.Range and validator.min_inclusive and validator.max_inclusive):
            low, high = validator.min, validator.max
            tests.append(lambda v, low=low, high=high: (low is None or v >= low) and (high is None or v <= high))
        elif type(validator) is validate.OneOf:
            choices = frozenset(validator.choices)
            tests.append(lambda v, choices=choices: v in choices)
        else:
            return None

    def check(value: Any) -> Any:
        if type(value) is not base or not all(test(value) for test in tests):
            return _REFUSED
        return value

    return check


class FastLoad:
    """Loads items of a flat schema without its per-field machinery, or says it cannot (None)."""

    def __init__(self, schema: Schema, *, validators: Iterable[Callable[..., None]] = (),
                 post_load: Callable[..., Any] | None = None) -> None:
        # Marshmallow keeps (attribute name, pass_many, options) per hook tag.
        hooks = {hook[0] for registered in schema._hooks.values() for hook in registered}  # type: ignore[attr-defined]
        given = {hook.__name__ for hook in validators} | ({post_load.__name__} if post_load else set())
        if hooks != given:
            raise TypeError(f"{type(schema).__name__} has hooks {sorted(hooks)}; FastLoad was given {sorted(given)}")
        if schema.unknown != RAISE:
            raise TypeError("FastLoad refuses unknown keys, as a schema with unknown=RAISE does")
        self._validators = list(validators)
        self._post_load = post_load
        self._plan: list[tuple[str, str, fields.Field, Callable[[Any], Any] | None]] = []
        for name, field in schema.load_fields.items():
            if isinstance(field, (fields.Nested, fields.List, fields.Method, fields.Function)):
                raise TypeError(f"{type(schema).__name__}.{name}: FastLoad handles flat schemas only")
            self._plan.append((field.data_key or name, field.attribute or name, field, _quick_check(field)))
        self._keys = frozenset(key for key, *_ in self._plan)

    def load(self, item: Any) -> Any | None:
        """The loaded item, exactly as the schema would load it; None when the schema must."""
        if type(item) is not dict or not self._keys.issuperset(item):
            return None
        data: dict[str, Any] = {}
        for key, attribute, field, check in self._plan:
            value = item.get(key, missing)
            if value is missing:
                if field.required:
                    return None
                default = field.load_default
                if default is not missing:
                    data[attribute] = default() if callable(default) else default
                continue
            if value is None:
                if not field.allow_none:
                    return None
                data[attribute] = None
                continue
            if check is not None:
                value = check(value)
                if value is _REFUSED:
                    return None
            else:
                try:
                    value = field.deserialize(value, key, item)
                except ValidationError:
                    return None
            data[attribute] = value
        try:
            for validator in self._validators:
                validator(data)
        except ValidationError:
            return None
        return self._post_load(data) if self._post_load else data


class FastList(fields.List):
    """A list of a flat schema's items, each loaded by :class:`FastLoad` when it can be, by the
    schema otherwise (so errors are the schema's own, under the item's index)."""

    def __init__(self, nested: fields.Nested, fast: Callable[[Schema], FastLoad], **kwargs: Any) -> None:
        super().__init__(nested, **kwargs)
        self._make_fast = fast
        self._fast: FastLoad | None = None

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if type(value) is not list:
            return super()._deserialize(value, attr, data, **kwargs)
        if self._fast is None:
            self._fast = self._make_fast(self.inner.schema)  # type: ignore[attr-defined]
        load = self._fast.load
        result: list[Any] = []
        errors: dict[int, Any] = {}
        for index, each in enumerate(value):
            loaded = load(each)
            if loaded is not None:
                result.append(loaded)
                continue
            try:
                result.append(self.inner.deserialize(each, **kwargs))
            except ValidationError as error:
                if error.valid_data is not None:
                    result.append(error.valid_data)
                errors[index] = error.messages
        if errors:
            raise ValidationError(errors, valid_data=result)
        return result
