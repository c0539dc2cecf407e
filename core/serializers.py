"""Serializer behaviour shared by every management endpoint."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

# The JSON types each kind of field reads; DRF would also coerce "5" to 5 and 1 to "1".
JSON_TYPES: tuple[tuple[type[serializers.Field], tuple[type, ...]], ...] = (
    (serializers.BooleanField, (bool,)),
    (serializers.IntegerField, (int,)),
    (serializers.FloatField, (int, float)),
    (serializers.DecimalField, (str,)),
    (serializers.CharField, (str,)),
    (serializers.ChoiceField, (str,)),
    (serializers.DateTimeField, (str,)),
    (serializers.PrimaryKeyRelatedField, (int,)),
    (serializers.SlugRelatedField, (str,)),
    (serializers.ListField, (list,)),
    (serializers.ListSerializer, (list,)),
    (serializers.DictField, (dict,)),
)


class StrictFieldsMixin(serializers.Serializer):
    """Refuse unknown fields by name, and values not of the JSON type the schema states.

    An item of a list is whole even in a PATCH: each names all of its required fields. A
    serializer of query parameters, whose values are all text, sets `json_types = False`.
    """

    json_types = True

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            errors = {name: ["Unknown or read-only field."] for name in self._unknown(data)}
            errors.update(self._mistyped(data) if self.json_types else {})
            errors.update(self._missing_in_item(data))
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def _unknown(self, data: dict) -> list[str]:
        writable = {name for name, field in self.fields.items() if not field.read_only}
        return sorted(str(key) for key in data if key not in writable)

    def _mistyped(self, data: dict) -> dict[str, list[str]]:
        errors = {}
        for name, field in self.fields.items():
            value = data.get(name)
            if name not in data or field.read_only or (value is None and field.allow_null):
                continue
            if problem := _type_problem(field, value):
                errors[name] = [problem]
        return errors

    def _missing_in_item(self, data: dict) -> dict[str, list[str]]:
        if not isinstance(getattr(self, "parent", None), serializers.ListSerializer):
            return {}
        required = [name for name, field in self.fields.items() if field.required]
        return {name: ["This field is required."] for name in required if name not in data}


def _type_problem(field: serializers.Field, value: Any) -> str:
    """Why `value` is not of the JSON type `field` reads (its items too, for a list), or ""."""
    expected = _json_types(field)
    if expected and (not isinstance(value, expected) or _bool_for_number(value, expected)):
        return f"Expected {' or '.join(t.__name__ for t in expected)}."
    child = getattr(field, "child", None)
    if isinstance(field, serializers.ListField) and child is not None:
        return next((p for item in value if (p := _type_problem(child, item))), "")
    return ""


def _json_types(field: serializers.Field) -> tuple[type, ...]:
    if isinstance(field, serializers.ChoiceField) and not all(
        isinstance(choice, str) for choice in field.choices
    ):
        return ()
    return next((types for kind, types in JSON_TYPES if isinstance(field, kind)), ())


def _bool_for_number(value: Any, expected: tuple[type, ...]) -> bool:
    """JSON true is not the number 1, though Python's bool is an int."""
    return isinstance(value, bool) and bool not in expected


def _has_null_character(document: Any) -> bool:
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            return True
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


class JSONDocumentField(serializers.JSONField):
    """A JSON value that PostgreSQL can store: no NUL character in any key or string."""

    def to_internal_value(self, data: Any) -> Any:
        if _has_null_character(data):
            raise serializers.ValidationError("Null characters are not allowed.")
        return super().to_internal_value(data)
