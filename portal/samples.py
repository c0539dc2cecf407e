"""Example request bodies for the copy-paste samples on an API's page."""

from __future__ import annotations

import json
from typing import Any

from apis.models import Api

PLACEHOLDERS = {"string": "text", "integer": 1, "number": 1.5, "boolean": True, "array": []}


def example_value(name: str, schema: Any) -> Any:
    """A value for one variable: the schema's own example or default, else one of its type."""
    if not isinstance(schema, dict):
        return name
    for key in ("example", "default"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    return PLACEHOLDERS.get(kind, name) if isinstance(kind, str) else name


def prompt_example(api: Api) -> dict[str, Any]:
    """The variables a prompt API takes, filled with example values."""
    endpoint = getattr(api, "prompt", None) if api.kind == Api.Kind.PROMPT else None
    properties = endpoint.variables.get("properties") if endpoint else None
    if not isinstance(properties, dict) or not properties:
        return {"variable": "value"}
    return {name: example_value(name, schema) for name, schema in properties.items()}


def prompt_example_json(api: Api) -> str:
    """The example variables as the JSON body of a request."""
    return json.dumps(prompt_example(api))
