"""The MCP methods this server answers, for both protocol eras."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from apis.mcp import prompts
from apis.mcp.audit import audited
from apis.mcp.calls import Caller, call_tool, problem_detail, relayed
from apis.mcp.conf import mcp_settings
from apis.mcp.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS, METHOD_NOT_FOUND, RpcError
from apis.mcp.resources import (
    MIME_TYPE,
    Resource,
    UpstreamResource,
    resource_at,
    resources_for,
    upstream_resource_at,
    upstream_resources_for,
)
from apis.mcp.tools import Tool, tool_named, tools_for
from apis.selectors import openapi_served_by

HANDSHAKE_VERSIONS = ("2025-06-18", "2025-11-25")
# Earlier handshake revisions a session's requests may still name in MCP-Protocol-Version.
HANDSHAKE_ERA = ("2024-11-05", "2025-03-26", *HANDSHAKE_VERSIONS)
MODERN_VERSIONS = ("2026-07-28",)
SERVER_INFO = {"name": "portcullis", "title": "Portcullis API gateway", "version": "0.1.0"}
SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo"
CAPABILITIES = {
    "tools": {"listChanged": False},
    "resources": {"subscribe": False, "listChanged": False},
    "prompts": {"listChanged": False},
    "completions": {},
}
INSTRUCTIONS = (
    "Each tool calls one API this application is subscribed to, through the Portcullis gateway: "
    "the plan's rate limits and quotas apply, and a refusal comes back as a tool error. "
    "Each API's OpenAPI document, where it has one, is a resource to read first. "
    "Tools, prompts and resources of MCP servers are named after their API: <api>.<name>."
)


@dataclass(frozen=True)
class Exchange:
    """One request's protocol era and caller."""

    modern: bool
    caller: Caller
    # /gw/<slug>/mcp serves that API alone; /mcp every API the caller may use.
    only_api: str = ""

    @property
    def application_id(self) -> int:
        return self.caller.claims.application_id

    def may_use(self, slug: str) -> bool:
        """Whether the caller's token was issued for the API `slug` (its scope), served here."""
        return slug in self.caller.claims.scope and self.only_api in ("", slug)


def initialize_result(requested: Any) -> dict[str, Any]:
    """The initialize answer: the client's version when we speak it, else our newest."""
    version = requested if requested in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[-1]
    return {
        "protocolVersion": version,
        "capabilities": CAPABILITIES,
        "serverInfo": SERVER_INFO,
        "instructions": INSTRUCTIONS,
    }


async def dispatch(method: str, params: dict[str, Any], exchange: Exchange) -> dict[str, Any]:
    """The result of a request, or RpcError (unknown method, bad params)."""
    handler = (MODERN_METHODS if exchange.modern else HANDSHAKE_METHODS).get(method)
    if handler is None:
        raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")
    result = await handler(params, exchange)
    if exchange.modern:
        result = {**result, "resultType": "complete", "_meta": {SERVER_INFO_META_KEY: SERVER_INFO}}
    return result


async def ping(params: dict[str, Any], exchange: Exchange) -> dict[str, Any]:
    """ping: an empty result."""
    return {}


async def discover(params: dict[str, Any], exchange: Exchange) -> dict[str, Any]:
    """server/discover (2026-07-28): versions, capabilities and instructions, no handshake."""
    return {
        "supportedVersions": list(MODERN_VERSIONS),
        "capabilities": CAPABILITIES,
        "instructions": INSTRUCTIONS,
        "ttlMs": mcp_settings.LIST_TTL_MS,
        "cacheScope": "public",
    }


async def list_tools(params: dict[str, Any], exchange: Exchange) -> dict[str, Any]:
    """tools/list: the caller's tools, a page at a time."""
    tools = [
        tool.definition()
        for tool in await tools_for(exchange.application_id)
        if exchange.may_use(tool.api_slug)
    ]
    return _page("tools", tools, params, exchange)


async def list_resources(params: dict[str, Any], exchange: Exchange) -> dict[str, Any]:
    """resources/list: the OpenAPI documents of the caller's APIs, a page at a time."""
    every: list[Resource | UpstreamResource] = [*await resources_for(exchange.application_id)]
    every += await upstream_resources_for(exchange.application_id)
    found = [resource.definition() for resource in every if exchange.may_use(resource.slug)]
    return _page("resources", found, params, exchange)


async def read_resource(params: dict[str, Any], exchange: Exchange) -> dict[str, Any]:
    """resources/read: one document; an API the caller may not use is not found."""
    uri = params.get("uri")
    if not isinstance(uri, str):
        raise RpcError(INVALID_PARAMS, "resources/read needs a uri.")
    found = await upstream_resource_at(exchange.application_id, uri) or await resource_at(
        exchange.application_id, uri
    )
    slug = found.slug if found is not None else ""
    return await _audited(
        exchange, slug, "resources/read", uri, {"uri": uri}, lambda: _read(exchange, uri, found)
    )


async def _read(
    exchange: Exchange, uri: str, resource: Resource | UpstreamResource | None
) -> dict[str, Any]:
    if resource is None or not exchange.may_use(resource.slug):
        # SEP-2164: a resource that is not there is invalid params, not -32002.
        raise RpcError(INVALID_PARAMS, f"Resource not found: {uri}")
    if isinstance(resource, UpstreamResource):
        return await _read_upstream(resource, exchange)
    caller = exchange.caller
    gateway = f"{caller.scheme}://{caller.host}{reverse('gateway', kwargs={'slug': resource.slug})}"
    # The backend's addresses (the document's servers) are for staff: agents go through us.
    document = openapi_served_by(resource.document, gateway_url=gateway)
    text = json.dumps(document, indent=2)
    return {"contents": [{"uri": resource.uri, "mimeType": MIME_TYPE, "text": text}]}


async def _read_upstream(resource: UpstreamResource, exchange: Exchange) -> dict[str, Any]:
    params = {"uri": resource.upstream_uri}
    status, answer = await relayed(resource.slug, "resources/read", params, exchange.caller)
    if status >= 400:
        raise RpcError(INTERNAL_ERROR, problem_detail(resource.slug, answer))
    contents = [
        {**content, "uri": resource.uri} if content.get("uri") == resource.upstream_uri else content
        for content in answer.get("contents") or []
        if isinstance(content, dict)
    ]
    return {"contents": contents}


async def list_prompts(params: dict[str, Any], exchange: Exchange) -> dict[str, Any]:
    """prompts/list: the caller's prompt APIs and its MCP servers' prompts, a page at a time."""
    found = [
        prompt.definition()
        for prompt in await prompts.prompts_for(exchange.application_id)
        if exchange.may_use(prompt.api_slug)
    ]
    return _page("prompts", found, params, exchange)


async def get_prompt(params: dict[str, Any], exchange: Exchange) -> dict[str, Any]:
    """prompts/get: the prompt's messages with the arguments filled in."""
    name, arguments = params.get("name"), params.get("arguments") or {}
    if not isinstance(name, str) or not isinstance(arguments, dict):
        raise RpcError(INVALID_PARAMS, "prompts/get needs a prompt name and an arguments object.")
    slug = name.partition(".")[0]
    return await _audited(
        exchange, slug, "prompts/get", name, arguments, lambda: _get(exchange, name, arguments)
    )


async def _get(exchange: Exchange, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    prompt = await _prompt(exchange, name)
    return await prompts.get_prompt(prompt, arguments, exchange.caller)


async def complete(params: dict[str, Any], exchange: Exchange) -> dict[str, Any]:
    """completion/complete: values of a prompt variable's enum that begin with what was typed."""
    ref, argument = params.get("ref"), params.get("argument")
    if not isinstance(ref, dict) or not isinstance(argument, dict):
        raise RpcError(INVALID_PARAMS, "completion/complete needs a ref and an argument.")
    values: list[str] = []
    if ref.get("type") == "ref/prompt" and isinstance(ref.get("name"), str):
        prompt = await _prompt(exchange, ref["name"])
        values = prompts.completions(
            prompt, str(argument.get("name")), str(argument.get("value", ""))
        )
    return {"completion": {"values": values, "total": len(values), "hasMore": False}}


async def _prompt(exchange: Exchange, name: str) -> prompts.Prompt:
    prompt = await prompts.prompt_named(exchange.application_id, name)
    if prompt is None or not exchange.may_use(prompt.api_slug):
        raise RpcError(INVALID_PARAMS, f"Unknown prompt: {name}")
    return prompt


async def _audited(
    exchange: Exchange, slug: str, method: str, target: str, arguments: Any, run
) -> dict[str, Any]:
    return await audited(
        application_id=exchange.application_id,
        api_slug=slug,
        method=method,
        target=target,
        arguments=arguments,
        run=run,
    )


def _page(
    key: str, items: list[dict[str, Any]], params: dict[str, Any], exchange: Exchange
) -> dict[str, Any]:
    start = _cursor_offset(params.get("cursor"))
    end = start + mcp_settings.PAGE_SIZE
    result: dict[str, Any] = {key: items[start:end]}
    if end < len(items):
        result["nextCursor"] = base64.urlsafe_b64encode(str(end).encode()).decode()
    if exchange.modern:
        # The list depends on the caller's subscriptions: cacheable per token only.
        result.update(ttlMs=mcp_settings.LIST_TTL_MS, cacheScope="private")
    return result


async def call(params: dict[str, Any], exchange: Exchange) -> dict[str, Any]:
    """tools/call: run the tool; failures of the call itself are results with isError."""
    name, arguments = params.get("name"), params.get("arguments") or {}
    if not isinstance(name, str) or not isinstance(arguments, dict):
        raise RpcError(INVALID_PARAMS, "tools/call needs a tool name and an arguments object.")
    tool = await tool_named(exchange.application_id, name)
    slug = tool.api_slug if tool is not None else name.partition(".")[0]
    return await _audited(
        exchange,
        slug,
        "tools/call",
        name,
        arguments,
        lambda: _call(exchange, tool, name, arguments),
    )


async def _call(
    exchange: Exchange, tool: Tool | None, name: str, arguments: dict[str, Any]
) -> dict[str, Any]:
    # A tool the plan does not grant is as unknown as one that does not exist.
    if tool is None or not exchange.may_use(tool.api_slug):
        raise RpcError(INVALID_PARAMS, f"Unknown tool: {name}")
    return await call_tool(tool, arguments, caller=exchange.caller)


def _cursor_offset(cursor: Any) -> int:
    if cursor is None:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(str(cursor).encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise RpcError(INVALID_PARAMS, "Invalid cursor.") from exc
    if offset < 0:
        raise RpcError(INVALID_PARAMS, "Invalid cursor.")
    return offset


Handler = Callable[[dict[str, Any], Exchange], Awaitable[dict[str, Any]]]
SHARED_METHODS: dict[str, Handler] = {
    "tools/list": list_tools,
    "tools/call": call,
    "resources/list": list_resources,
    "resources/read": read_resource,
    "prompts/list": list_prompts,
    "prompts/get": get_prompt,
    "completion/complete": complete,
}
HANDSHAKE_METHODS: dict[str, Handler] = {"ping": ping, **SHARED_METHODS}
MODERN_METHODS: dict[str, Handler] = {"server/discover": discover, **SHARED_METHODS}
