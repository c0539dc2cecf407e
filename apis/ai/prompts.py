"""Prompt templates: variables checked against their JSON Schema, then inserted as plain text."""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema.exceptions import SchemaError
from referencing.exceptions import Unresolvable

from apis.gateway.errors import GatewayError
from core.json_schemas import schema_problem, schema_validator

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def placeholders(template: str) -> list[str]:
    """The variable names a template uses, in order of first use."""
    return list(dict.fromkeys(PLACEHOLDER.findall(template)))


def render(template: str, variables: dict[str, Any]) -> str:
    """The template with each placeholder replaced in one pass.

    One pass means text inserted from a variable is never scanned again, so `{{x}}` inside a
    variable's value stays literal.
    """
    return PLACEHOLDER.sub(lambda match: _text(variables.get(match[1], "")), template)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def check_schema(schema: dict[str, Any]) -> None:
    """Raise SchemaError when a schema may not be used (see core.json_schemas.schema_problem)."""
    problem = schema_problem(schema)
    if problem:
        raise SchemaError(problem)


def validate_variables(schema: dict[str, Any], variables: Any) -> None:
    """422 naming the first failing field when the variables do not match the schema."""
    if not isinstance(variables, dict):
        raise GatewayError(
            422, "Invalid variables", "Send the template's variables as a JSON object."
        )
    error = first_error(schema or {}, variables)
    if error is not None:
        field, message = error
        raise GatewayError(422, "Invalid variables", f"{field}: {message}", field=field)


def first_error(schema: dict[str, Any], instance: Any) -> tuple[str, str] | None:
    """(field path, message) of the first validation error, or None when the instance is valid."""
    try:
        errors = sorted(schema_validator(schema).iter_errors(instance), key=lambda e: list(e.path))
    except SchemaError as exc:
        return "(schema)", exc.message
    except Unresolvable:  # a schema stored before references were checked at save
        return "(schema)", "The schema refers outside itself; such references are not retrieved."
    if not errors:
        return None
    error = errors[0]
    field = ".".join(str(p) for p in error.path) or _missing_field(error) or "(body)"
    return field, error.message


def _missing_field(error: Any) -> str:
    # A missing required property fails at its parent; name the property itself.
    if error.validator == "required":
        match = re.match(r"'([^']+)' is a required property", error.message)
        return match[1] if match else ""
    return ""
