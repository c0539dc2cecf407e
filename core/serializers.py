"""Serializer behaviour shared by every management endpoint."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictFieldsMixin:
    """Refuse unknown fields by name instead of silently dropping them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(key) for key in data if key not in writable)
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown or read-only field."] for name in unknown}
                )
        return super().to_internal_value(data)


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
