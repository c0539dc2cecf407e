"""The 2026-07-28 transport: no handshake; every POST carries its own version and capabilities."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from django.http import HttpRequest, HttpResponse

from apis.mcp import methods, responses
from apis.mcp.calls import Caller
from apis.mcp.jsonrpc import (
    HEADER_MISMATCH,
    HTTP_STATUS,
    INVALID_PARAMS,
    INVALID_REQUEST,
    UNSUPPORTED_PROTOCOL_VERSION,
    Message,
    RpcError,
    error_reply,
    reply,
)
from apis.mcp.methods import MODERN_VERSIONS, Exchange

PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
# Methods whose target is mirrored in the Mcp-Name header, and the param that names it.
NAMED_PARAMS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
BASE64_SENTINEL = re.compile(r"^=\?base64\?(?P<payload>.*)\?=$")
ALLOW = {"Allow": "POST"}


async def post(
    request: HttpRequest, message: Message, caller: Caller, form: str, only_api: str = ""
) -> HttpResponse:
    """Answer one self-contained request; notifications are acknowledged and dropped."""
    if message.is_notification:
        check_version(request.headers.get("MCP-Protocol-Version", ""))
        return responses.empty(202)
    if not message.is_request:
        raise RpcError(INVALID_REQUEST, "A client must not post responses on this revision.")
    try:
        check_envelope(message, request)
        result = await methods.dispatch(
            message.method, message.params, Exchange(True, caller, only_api)
        )
    except RpcError as error:
        status = HTTP_STATUS.get(error.code, 200)
        return responses.message(error_reply(message.id, error), status=status, form=form)
    return responses.message(reply(message.id, result), form=form)


def check_envelope(message: Message, request: HttpRequest) -> None:
    """The per-request `_meta` envelope, the routing headers that mirror it, then the version."""
    meta = message.params.get("_meta")
    if not isinstance(meta, dict):
        raise RpcError(
            INVALID_PARAMS,
            f"params._meta must carry {PROTOCOL_VERSION_KEY!r} and {CLIENT_CAPABILITIES_KEY!r}.",
        )
    missing = [key for key in (PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY) if key not in meta]
    if missing:
        raise RpcError(INVALID_PARAMS, f"params._meta lacks {', '.join(missing)}.")
    check_headers(message, request, meta[PROTOCOL_VERSION_KEY])
    check_version(meta[PROTOCOL_VERSION_KEY])


def check_headers(message: Message, request: HttpRequest, version: Any) -> None:
    """MCP-Protocol-Version, Mcp-Method and Mcp-Name say what the body says."""
    if request.headers.get("MCP-Protocol-Version") != version:
        raise RpcError(HEADER_MISMATCH, "MCP-Protocol-Version does not match params._meta.")
    if request.headers.get("Mcp-Method") != message.method:
        raise RpcError(HEADER_MISMATCH, "Mcp-Method does not match the body's method.")
    named = NAMED_PARAMS.get(message.method)
    body_value = message.params.get(named) if named else None
    if body_value is not None and _header_value(request.headers.get("Mcp-Name")) != body_value:
        raise RpcError(HEADER_MISMATCH, f"Mcp-Name does not match the body's {named!r}.")


def check_version(version: Any) -> None:
    """A protocol version this transport serves, else -32022 naming the ones it does."""
    if not isinstance(version, str):
        raise RpcError(INVALID_PARAMS, "The protocol version must be a string.")
    if version not in MODERN_VERSIONS:
        data = {"supported": list(MODERN_VERSIONS), "requested": version}
        raise RpcError(UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version", data)


def _header_value(value: str | None) -> str | None:
    # Values that are not plain visible ASCII travel as =?base64?...?= (2026-07-28 transports).
    match = BASE64_SENTINEL.match(value or "")
    if match is None:
        return value
    try:
        return base64.b64decode(match["payload"], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
