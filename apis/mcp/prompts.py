"""MCP prompts: each subscribed prompt API, its variables as arguments, and upstream servers' own.

A prompt API's prompts/get renders its template here, the model is not called: the agent gets
the messages to send itself. An `mcp` API's prompts/get goes to its server through the gateway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from apis.ai.prompts import first_error, render
from apis.catalog_cache import cached_lookup
from apis.mcp.calls import Caller, problem_detail, relayed
from apis.mcp.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS, RpcError
from apis.mcp.selectors import snapshot_of, subscribed_apis
from apis.models import Api, PromptEndpoint

COMPLETION_LIMIT = 100


@dataclass(frozen=True)
class Prompt:
    """One MCP prompt and where it comes from."""

    name: str
    title: str
    description: str
    arguments: list[dict[str, Any]]
    api_slug: str
    api_kind: str
    upstream_name: str = ""
    variables_schema: dict[str, Any] = field(default_factory=dict)
    system: str = ""
    template: str = ""

    def definition(self) -> dict[str, Any]:
        """The prompt as prompts/list shows it."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "arguments": self.arguments,
        }


async def prompts_for(application_id: int) -> list[Prompt]:
    """The application's prompts; cached until the catalog or a subscription changes."""
    return await cached_lookup(f"mcp:prompts:{application_id}", lambda: _build(application_id))


async def prompt_named(application_id: int, name: str) -> Prompt | None:
    """The application's prompt of that name, or None."""
    return next((p for p in await prompts_for(application_id) if p.name == name), None)


def _build(application_id: int) -> list[Prompt]:
    prompts: list[Prompt] = []
    for api in subscribed_apis(application_id=application_id):
        if api.kind == Api.Kind.PROMPT:
            prompts += _template_prompt(api)
        elif api.kind == Api.Kind.MCP:
            prompts += [_upstream_prompt(api, entry) for entry in snapshot_of(api).prompts]
    return prompts


def _template_prompt(api: Api) -> list[Prompt]:
    try:
        endpoint = api.prompt
    except PromptEndpoint.DoesNotExist:
        return []
    schema = endpoint.variables if isinstance(endpoint.variables, dict) else {}
    required = set(schema.get("required") or [])
    arguments = [
        _argument(name, spec, name in required)
        for name, spec in (schema.get("properties") or {}).items()
    ]
    description = api.description or f"The prompt of {api.name} {api.version}."
    return [
        Prompt(
            name=api.slug,
            title=api.name,
            description=description,
            arguments=arguments,
            api_slug=api.slug,
            api_kind=api.kind,
            variables_schema=schema,
            system=endpoint.system,
            template=endpoint.template,
        )
    ]


def _argument(name: str, spec: Any, required: bool) -> dict[str, Any]:
    described = spec.get("description") if isinstance(spec, dict) else None
    argument: dict[str, Any] = {"name": name, "required": required}
    if described:
        argument["description"] = str(described)
    return argument


def _upstream_prompt(api: Api, entry: dict[str, Any]) -> Prompt:
    arguments = [
        argument for argument in entry.get("arguments") or [] if isinstance(argument, dict)
    ]
    return Prompt(
        name=f"{api.slug}.{entry['name']}",
        title=str(entry.get("title") or f"{api.name}: {entry['name']}"),
        description=str(entry.get("description") or ""),
        arguments=arguments,
        api_slug=api.slug,
        api_kind=api.kind,
        upstream_name=entry["name"],
    )


async def get_prompt(prompt: Prompt, arguments: dict[str, str], caller: Caller) -> dict[str, Any]:
    """prompts/get: the rendered messages, or RpcError for arguments that do not fit."""
    if prompt.api_kind == Api.Kind.MCP:
        params = {"name": prompt.upstream_name, "arguments": arguments}
        status, answer = await relayed(prompt.api_slug, "prompts/get", params, caller)
        if status >= 400:
            raise RpcError(INTERNAL_ERROR, problem_detail(prompt.api_slug, answer))
        return answer
    variables = typed_arguments(prompt.variables_schema, arguments)
    error = first_error(prompt.variables_schema, variables)
    if error is not None:
        raise RpcError(INVALID_PARAMS, f"{prompt.name}: {error[0]}: {error[1]}")
    texts = [prompt.system, render(prompt.template, variables)]
    messages = [{"role": "user", "content": {"type": "text", "text": t}} for t in texts if t]
    return {"description": prompt.description, "messages": messages}


def typed_arguments(schema: dict[str, Any], arguments: dict[str, str]) -> dict[str, Any]:
    """MCP sends prompt arguments as strings: a variable the schema types otherwise is parsed."""
    properties = schema.get("properties") or {}
    typed: dict[str, Any] = {}
    for name, value in arguments.items():
        spec = properties.get(name)
        if not isinstance(spec, dict):
            spec = {}
        typed[name] = _parsed(value) if spec.get("type") not in (None, "string") else value
    return typed


def _parsed(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def completions(prompt: Prompt, argument: str, typed: str) -> list[str]:
    """The values of the variable's `enum` that begin with what was typed, at most 100."""
    spec = (prompt.variables_schema.get("properties") or {}).get(argument)
    choices = spec.get("enum") if isinstance(spec, dict) else None
    values = [str(choice) for choice in choices or []]
    return [value for value in values if value.startswith(typed)][:COMPLETION_LIMIT]
