"""OpenAPI generation of the management API's schema: its hooks and the strict request bodies.

The schema is the contract generated clients are built from, so it states what the server
does: every error answer as problem+json, unknown request fields refused, and the rules a
serializer checks across fields (see `StrictRequestSchema`).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from core.problems import PROBLEM_JSON

MANAGEMENT_PREFIX = "/api/v1/"
# Help texts of fields only staff receive start with this; the schema marks them optional.
STAFF_ONLY = "Staff only."
UNSAFE_METHODS = ("post", "put", "patch", "delete")
# The user-token endpoints: they authenticate by what is posted, not by a session or token.
TOKEN_PATHS = (f"{MANAGEMENT_PREFIX}auth/token/", f"{MANAGEMENT_PREFIX}auth/token/refresh/")

PROBLEM = {
    "type": "object",
    "description": "An RFC 9457 problem detail; some answers add members of their own.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "description": "Invalid input: the messages of each field, by its path.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "location": {
            "type": "string",
            "description": "Invalid OpenAPI document: where, as a JSON path.",
        },
        "allowed": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Forbidden lifecycle transition: the states the API may move to.",
        },
    },
}

# Each error answer the management API gives, described once and referred to by operations.
ERRORS = {
    "400": ("BadRequest", "The request is malformed or holds invalid values; `errors` names them."),
    "401": ("Unauthorized", "No valid credentials: sign in or send a fresh access token."),
    "403": ("Forbidden", "Signed in, but not allowed to do this."),
    "404": ("NotFound", "Nothing the caller may see is at this path."),
    "409": (
        "Conflict",
        "The change conflicts with the current state (a duplicate, a forbidden "
        "transition, a decided subscription).",
    ),
    "415": (
        "UnsupportedMediaType",
        "The request body is not in a media type this operation reads.",
    ),
    "429": ("TooManyRequests", "Too many attempts; `Retry-After` says when to try again."),
}


def problem_answer(status: int, description: str) -> dict[tuple[int, str], OpenApiResponse]:
    """An error answer an operation gives beyond those `error_statuses` finds for it."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {(status, PROBLEM_JSON): OpenApiResponse(response=schema, description=description)}


def management_endpoints_only(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list:
    """Keep the schema to the management API; the gateway, OAuth and MCP have their own specs."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(MANAGEMENT_PREFIX)]


def staff_only_fields_optional(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Fields only staff receive are not required in any response component."""
    for component in result.get("components", {}).get("schemas", {}).values():
        properties = component.get("properties", {})
        staff_only = {
            name
            for name, field in properties.items()
            if str(field.get("description", "")).startswith(STAFF_ONLY)
        }
        if "required" in component:
            component["required"] = [n for n in component["required"] if n not in staff_only]
    return result


def problem_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Every operation documents the problem+json answers it can give, from one shared set."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM
    components["responses"] = {
        name: _problem_response(description, status)
        for status, (name, description) in ERRORS.items()
    }
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            for status in error_statuses(path, method, operation):
                ref = {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
                operation["responses"].setdefault(status, ref)
    return result


def _problem_response(description: str, status: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status == "429":
        response["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}}
    return response


def error_statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses an operation can answer with.

    Any request can be malformed (400) and any caller unauthenticated (401); a path naming a
    resource can name none (404); a write can conflict (409) or be refused, by permission or
    a failed CSRF check (403); a body can come in a media type no parser reads (415). The
    user-token endpoints count failed sign-ins and answer 429 to a guesser.
    """
    statuses = ["400", "401"]
    if path in TOKEN_PATHS:
        statuses += ["429"] if path == TOKEN_PATHS[0] else []
    else:
        statuses.append("403")
        statuses += ["404"] if "{" in path else []
        statuses += ["409"] if method in UNSAFE_METHODS else []
    return [*statuses, "415"] if "requestBody" in operation else statuses


class StrictRequestSchema(OpenApiSerializerExtension):
    """Request bodies of StrictFieldsMixin serializers: unknown fields refused, rules stated.

    A serializer may declare `schema_rules`: JSON Schema keywords (`anyOf`, `allOf`) that say
    which fields it requires together, added to its full (not partial) request body.
    """

    target_class = "core.serializers.StrictFieldsMixin"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction != "request":
            return schema
        schema["additionalProperties"] = False
        _not_blank_after_trimming(self.target, schema.get("properties", {}))
        rules = getattr(self.target, "schema_rules", None)
        if rules and not getattr(self.target, "partial", False):
            schema.update(rules)
        return schema


def _not_blank_after_trimming(serializer: Any, properties: dict[str, Any]) -> None:
    """A text field that trims whitespace and may not be blank needs one other character."""
    for name, field in getattr(serializer, "fields", {}).items():
        prop = properties.get(name)
        if (
            prop is not None
            and isinstance(field, serializers.CharField)
            and field.trim_whitespace
            and not field.allow_blank
            and not {"pattern", "format", "$ref", "oneOf"} & prop.keys()
        ):
            prop["pattern"] = r"\S"
