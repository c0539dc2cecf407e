"""OpenAPI 3 operations as MCP tool input: parameters and JSON request body -> one JSON Schema."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PARAMETER_LOCATIONS = ("path", "query", "header")
# Headers the gateway sets itself, or that carry credentials: never taken from tool arguments.
RESERVED_HEADERS = frozenset({"authorization", "content-type", "accept", "content-length", "host"})
MAX_REF_DEPTH = 32


@dataclass(frozen=True)
class Parameter:
    """One argument of an operation: its tool property and where it goes in the HTTP request."""

    property: str
    name: str
    location: str


@dataclass(frozen=True)
class Operation:
    """One operation of an OpenAPI document, ready to become a tool."""

    method: str
    path: str
    operation_id: str
    description: str
    input_schema: dict[str, Any]
    parameters: tuple[Parameter, ...] = field(default_factory=tuple)
    has_body: bool = False


def operations(document: Any) -> Iterator[Operation]:
    """Every operation of the document, in document order; malformed parts are skipped."""
    paths = document.get("paths") if isinstance(document, dict) else None
    if not isinstance(paths, dict):
        return
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        shared = _as_list(item.get("parameters"))
        for method in HTTP_METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                yield _operation(document, method, str(path), operation, shared)


def _operation(
    document: dict, method: str, path: str, operation: dict, shared: list[Any]
) -> Operation:
    properties: dict[str, Any] = {}
    required: list[str] = []
    parameters = []
    for raw in _merged_parameters(document, shared, _as_list(operation.get("parameters"))):
        name, location = str(raw["name"]), raw["in"]
        prop = name if name not in properties and name != "body" else f"{location}.{name}"
        properties[prop] = _parameter_schema(document, raw)
        if raw.get("required") or location == "path":
            required.append(prop)
        parameters.append(Parameter(prop, name, location))
    body = _json_body_schema(document, operation.get("requestBody"))
    if body is not None:
        properties["body"] = body[0]
        if body[1]:
            required.append("body")
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return Operation(
        method=method.upper(),
        path=path,
        operation_id=str(operation.get("operationId") or f"{method}_{path}"),
        description=str(operation.get("summary") or operation.get("description") or ""),
        input_schema=schema,
        parameters=tuple(parameters),
        has_body=body is not None,
    )


def _merged_parameters(document: dict, shared: list[Any], own: list[Any]) -> list[dict]:
    # Operation-level parameters override path-level ones with the same name and location.
    merged: dict[tuple[str, str], dict] = {}
    for raw in [*shared, *own]:
        parameter = resolve(document, raw)
        if not isinstance(parameter, dict) or parameter.get("in") not in PARAMETER_LOCATIONS:
            continue
        if not parameter.get("name"):
            continue
        if parameter["in"] == "header" and parameter["name"].lower() in RESERVED_HEADERS:
            continue
        merged[(parameter["name"], parameter["in"])] = parameter
    return list(merged.values())


def _parameter_schema(document: dict, parameter: dict) -> dict[str, Any]:
    schema = resolve(document, parameter.get("schema"))
    schema = dict(schema) if isinstance(schema, dict) else {"type": "string"}
    if parameter.get("description") and "description" not in schema:
        schema["description"] = str(parameter["description"])
    return schema


def _json_body_schema(document: dict, request_body: Any) -> tuple[dict, bool] | None:
    body = resolve(document, request_body)
    if not isinstance(body, dict) or not isinstance(body.get("content"), dict):
        return None
    media = next((v for k, v in body["content"].items() if "json" in k.lower()), None)
    if not isinstance(media, dict):
        return None
    schema = resolve(document, media.get("schema"))
    return (schema if isinstance(schema, dict) else {}), bool(body.get("required"))


def resolve(document: dict, node: Any, depth: int = 0) -> Any:
    """`node` with every local `$ref` inlined; a cycle or a dangling reference becomes `{}`."""
    if depth > MAX_REF_DEPTH:
        return {}
    if isinstance(node, list):
        return [resolve(document, item, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("$ref"), str):
        return resolve(document, _pointer(document, node["$ref"]), depth + 1)
    return {key: resolve(document, value, depth + 1) for key, value in node.items()}


def _pointer(document: dict, ref: str) -> Any:
    if not ref.startswith("#/"):
        return {}
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return {}
        node = node[part]
    return node


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
