"""Tools per caller: a subscribed API is one tool (prompt, ai) or one per operation (rest)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from typing import Any

from apis.ai.formats import SURFACE_PATHS
from apis.catalog_cache import cached_lookup
from apis.mcp import openapi
from apis.mcp.selectors import plans_of, prompt_variables_schema, snapshot_of, subscribed_apis
from apis.models import Api, Plan

# Tool names (MCP 2025-11-25, "Tool names"): 1 to 128 of A-Z a-z 0-9 _ - . and unique per server.
NAME_LIMIT = 128
UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
GENERIC_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
CHAT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "role": {"type": "string", "enum": ["system", "user", "assistant"]},
                    "content": {"type": "string"},
                },
                "required": ["role", "content"],
            },
        },
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "max_tokens": {"type": "integer", "minimum": 1},
    },
    "required": ["messages"],
}
# What tools/list passes on of an upstream's tool besides its name, schema and description.
UPSTREAM_EXTRA = ("outputSchema", "annotations", "icons")
GENERIC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "method": {"type": "string", "enum": GENERIC_METHODS, "default": "GET"},
        "path": {"type": "string", "description": "Path below the API's root, e.g. /orders/42"},
        "query": {"type": "object", "additionalProperties": {"type": "string"}},
        "body": {"description": "JSON request body"},
    },
}


@dataclass(frozen=True)
class Tool:
    """One MCP tool and the API call behind it."""

    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    api_slug: str
    api_kind: str
    operation: openapi.Operation | None = None
    # An `mcp` API's tool: its name upstream, and what else the upstream said of it.
    upstream_name: str = ""
    upstream_extra: tuple[tuple[str, Any], ...] = ()

    def definition(self) -> dict[str, Any]:
        """The tool as tools/list shows it."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": self.input_schema,
            **dict(self.upstream_extra),
        }


async def tools_for(application_id: int) -> list[Tool]:
    """The application's tools; cached until the catalog or a subscription changes."""
    return await cached_lookup(f"mcp:tools:{application_id}", lambda: _build(application_id))


async def tool_named(application_id: int, name: str) -> Tool | None:
    """The application's tool of that name, or None (unknown or not subscribed)."""
    return next((tool for tool in await tools_for(application_id) if tool.name == name), None)


def _build(application_id: int) -> list[Tool]:
    # The loader of a cold lookup: sync ORM, run off the event loop by cached_lookup.
    tools: list[Tool] = []
    taken: set[str] = set()
    plans = plans_of(application_id=application_id)
    for api in subscribed_apis(application_id=application_id):
        for tool in _tools_of(api, plans[api.pk]):
            name = unique_name(tool.name, taken)
            taken.add(name)
            tools.append(replace(tool, name=name))
    return tools


def _tools_of(api: Api, plan: Plan) -> list[Tool]:
    if api.kind == Api.Kind.MCP:
        tools = snapshot_of(api).tools
        return [_upstream_tool(api, tool) for tool in tools if plan.grants(tool.get("name"))]
    if api.kind == Api.Kind.PROMPT:
        schema = prompt_variables_schema(api) or {"type": "object"}
        return [_tool(api, api.slug, schema, _describe(api, "Runs the prompt"))]
    if api.kind == Api.Kind.AI:
        return [_tool(api, f"{api.slug}.chat", CHAT_SCHEMA, _describe(api, "Chats with the model"))]
    operations = list(openapi.operations(api.openapi))
    if not operations:
        return [_tool(api, api.slug, GENERIC_SCHEMA, _describe(api, "Calls the REST API"))]
    return [_operation_tool(api, operation) for operation in operations]


def _operation_tool(api: Api, operation: openapi.Operation) -> Tool:
    summary = operation.description or f"{operation.method} {operation.path}"
    return Tool(
        name=f"{api.slug}.{operation.operation_id}",
        title=f"{api.name}: {summary}",
        description=f"{summary} ({operation.method} {operation.path} on {api.name} {api.version})",
        input_schema=operation.input_schema,
        api_slug=api.slug,
        api_kind=api.kind,
        operation=operation,
    )


def _upstream_tool(api: Api, tool: dict[str, Any]) -> Tool:
    """An upstream server's tool, under the API's slug; deny by default is the caller's job."""
    extra = tuple((key, tool[key]) for key in UPSTREAM_EXTRA if key in tool)
    return Tool(
        name=f"{api.slug}.{tool['name']}",
        title=str(tool.get("title") or f"{api.name}: {tool['name']}"),
        description=str(tool.get("description") or f"{tool['name']} on {api.name}."),
        input_schema=tool.get("inputSchema") or {"type": "object"},
        api_slug=api.slug,
        api_kind=api.kind,
        upstream_name=tool["name"],
        upstream_extra=extra,
    )


def _tool(api: Api, name: str, schema: dict[str, Any], description: str) -> Tool:
    return Tool(name, api.name, description, schema, api.slug, api.kind)


def _describe(api: Api, action: str) -> str:
    text = f"{action} {api.name} {api.version}."
    if api.kind == Api.Kind.AI:
        text += f" Over HTTP it answers at /gw/{api.slug}: {', '.join(SURFACE_PATHS)}."
    return f"{text} {api.description}".strip() if api.description else text


def unique_name(wanted: str, taken: set[str]) -> str:
    """A valid tool name close to `wanted` that is not in `taken`."""
    name = UNSAFE.sub("_", wanted).strip("_.-") or "tool"
    if len(name) > NAME_LIMIT:
        name = f"{name[: NAME_LIMIT - 9]}_{hashlib.sha256(wanted.encode()).hexdigest()[:8]}"
    candidate, counter = name, 2
    while candidate in taken:
        suffix = f"_{counter}"
        candidate, counter = name[: NAME_LIMIT - len(suffix)] + suffix, counter + 1
    return candidate
