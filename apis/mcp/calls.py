"""tools/call: arguments checked against the tool's schema, then run through the gateway."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from jsonschema.exceptions import SchemaError
from referencing.exceptions import Unresolvable

from apis.gateway.context import GatewayRequest
from apis.gateway.pipeline import handle
from apis.mcp.openapi import Operation
from apis.mcp.tools import Tool
from core.json_schemas import schema_validator

JSON = "application/json"
PATH_PARAMETER_SAFE = "-._~!$&'()*+,;=:@"


@dataclass(frozen=True)
class Caller:
    """Who calls, and from where: verified token claims and the HTTP request's origin data."""

    claims: Any
    peer_address: str
    scheme: str
    host: str
    request_id: str
    # The caller's handshake session, whose upstream MCP sessions it owns ("" on 2026-07-28).
    session_id: str = ""


@dataclass(frozen=True)
class ApiRequest:
    """The HTTP request a tool call makes of its API through the gateway."""

    method: str
    path: str
    query_string: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


async def call_tool(tool: Tool, arguments: dict[str, Any], *, caller: Caller) -> dict[str, Any]:
    """A CallToolResult: the API's answer, or isError with why (arguments, refusal, upstream)."""
    problems = argument_errors(tool.input_schema, arguments)
    if problems:
        return tool_error("The arguments do not match the tool's input schema: " + problems)
    if tool.api_kind == "mcp":
        params = {"name": tool.upstream_name, "arguments": arguments}
        status, answer = await relayed(tool.api_slug, "tools/call", params, caller)
        return tool_error(problem_detail(tool.api_slug, answer)) if status >= 400 else answer
    status, text = await _through_gateway(api_request(tool, arguments), tool.api_slug, caller)
    if status >= 400:
        return tool_error(f"{tool.api_slug} answered HTTP {status}: {text}")
    return {"content": [{"type": "text", "text": _result_text(tool, text)}], "isError": False}


async def relayed(
    slug: str, method: str, params: dict[str, Any], caller: Caller
) -> tuple[int, dict[str, Any]]:
    """An `mcp` API's answer to one request, through the gateway: (status, result or problem)."""
    body = json.dumps({"method": method, "params": params}).encode()
    status, text = await _through_gateway(ApiRequest("POST", "", body=body), slug, caller)
    try:
        answer = json.loads(text)
    except ValueError:
        answer = {"detail": text}
    return status, answer if isinstance(answer, dict) else {"detail": text}


def problem_detail(slug: str, problem: dict[str, Any]) -> str:
    """What a refusal or failure of an `mcp` API's call says, naming the API."""
    detail = str(problem.get("detail") or problem.get("title") or "refused")
    return detail if slug in detail else f"{slug}: {detail}"


def argument_errors(schema: dict[str, Any], arguments: dict[str, Any]) -> str:
    """The schema violations of the arguments, one sentence each; empty when they conform."""
    try:
        validator = schema_validator(schema)
        errors = sorted(validator.iter_errors(arguments), key=lambda error: list(error.path))
    except SchemaError:
        return ""
    except Unresolvable:
        return "the tool's input schema refers to a definition it does not hold."
    return "; ".join(_explain(error) for error in errors[:5])


def _explain(error) -> str:
    where = "/".join(str(part) for part in error.path)
    return f"{where}: {error.message}" if where else error.message


def tool_error(text: str) -> dict[str, Any]:
    """A tool result that tells the model what went wrong, without a protocol error."""
    return {"content": [{"type": "text", "text": text}], "isError": True}


def api_request(tool: Tool, arguments: dict[str, Any]) -> ApiRequest:
    """The HTTP request behind a call of this tool with these (valid) arguments."""
    if tool.api_kind == "prompt":
        return ApiRequest("POST", "", body=json.dumps(arguments).encode())
    if tool.api_kind == "ai":
        return ApiRequest("POST", "chat/completions", body=_chat_body(arguments))
    if tool.operation is not None:
        return _operation_request(tool.operation, arguments)
    return _generic_request(arguments)


def _chat_body(arguments: dict[str, Any]) -> bytes:
    body = {
        key: arguments[key] for key in ("messages", "temperature", "max_tokens") if key in arguments
    }
    return json.dumps({**body, "stream": False}).encode()


def _operation_request(operation: Operation, arguments: dict[str, Any]) -> ApiRequest:
    path, query, headers = operation.path, [], []
    for parameter in operation.parameters:
        if parameter.property not in arguments:
            continue
        value = _plain(arguments[parameter.property])
        if parameter.location == "path":
            path = path.replace(f"{{{parameter.name}}}", quote(value, safe=PATH_PARAMETER_SAFE))
        elif parameter.location == "query":
            query.append((parameter.name, value))
        else:
            headers.append((parameter.name, value))
    body = b""
    if operation.has_body and "body" in arguments:
        body = json.dumps(arguments["body"]).encode()
    return ApiRequest(operation.method, path.lstrip("/"), urlencode(query), tuple(headers), body)


def _generic_request(arguments: dict[str, Any]) -> ApiRequest:
    query = urlencode({key: _plain(value) for key, value in arguments.get("query", {}).items()})
    body = json.dumps(arguments["body"]).encode() if "body" in arguments else b""
    method = arguments.get("method", "GET")
    return ApiRequest(method, str(arguments.get("path", "")).lstrip("/"), query, (), body)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


async def _through_gateway(request: ApiRequest, slug: str, caller: Caller) -> tuple[int, str]:
    answer = await handle(_gateway_request(request, slug, caller))
    try:
        body = b"".join([chunk async for chunk in answer.body])
    finally:
        # Closing frees the call's upstream place and accounts it, read whole or not.
        await answer.body.aclose()
    return answer.status, body.decode("utf-8", errors="replace")


def _gateway_request(request: ApiRequest, slug: str, caller: Caller) -> GatewayRequest:
    headers = {"Accept": JSON, **dict(request.headers)}
    if request.body:
        headers["Content-Type"] = JSON
    return GatewayRequest(
        method=request.method,
        slug=slug,
        path=request.path,
        query_string=request.query_string,
        headers=headers,
        body=request.body or None,
        content_length=len(request.body) or None,
        peer_address=caller.peer_address,
        client_address=caller.peer_address,
        scheme=caller.scheme,
        host=caller.host,
        request_id=caller.request_id,
        channel="mcp",
        mcp_owner=caller.session_id,
        verified_claims=caller.claims,
    )


def _result_text(tool: Tool, text: str) -> str:
    # An agent wants the model's words, not the chat-completions envelope around them.
    if tool.api_kind != "ai":
        return text
    try:
        return json.loads(text)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return text
