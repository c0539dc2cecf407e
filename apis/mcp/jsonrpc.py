"""JSON-RPC 2.0 framing for MCP: error codes, parsing a posted body, building replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.parsers import strict_json

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# MCP 2026-07-28 codes.
HEADER_MISMATCH = -32020
UNSUPPORTED_PROTOCOL_VERSION = -32022

# The HTTP status of a JSON-RPC error on the 2026-07-28 transport; unlisted codes answer 200.
HTTP_STATUS = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}


class RpcError(Exception):
    """A protocol mistake, answered as a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def error(self) -> dict[str, Any]:
        """The JSON-RPC `error` member."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            body["data"] = self.data
        return body


@dataclass(frozen=True)
class Message:
    """One posted JSON-RPC message: a request (has an id), a notification, or a reply."""

    raw: dict[str, Any]
    method: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> Any:
        return self.raw.get("id")

    @property
    def is_request(self) -> bool:
        return "id" in self.raw and bool(self.method)

    @property
    def is_notification(self) -> bool:
        return "id" not in self.raw


def parse(body: bytes) -> Message:
    """The single JSON-RPC message of a POST body, or RpcError (parse error, invalid request)."""
    try:
        decoded = strict_json(body)
    except ValueError as exc:
        raise RpcError(PARSE_ERROR, f"Parse error: the body is not JSON ({exc}).") from exc
    if not isinstance(decoded, dict) or decoded.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, "The body must be one JSON-RPC 2.0 message object.")
    if "result" in decoded or "error" in decoded:
        return Message(raw=decoded)
    return Message(raw=decoded, method=_method(decoded), params=_params(decoded))


def _method(decoded: dict[str, Any]) -> str:
    method = decoded.get("method")
    request_id = decoded.get("id", "")
    if not isinstance(method, str) or not method:
        raise RpcError(INVALID_REQUEST, "A JSON-RPC request needs a method name.")
    if request_id is None or isinstance(request_id, bool | float | dict | list):
        raise RpcError(INVALID_REQUEST, "A request id must be a string or an integer.")
    return method


def _params(decoded: dict[str, Any]) -> dict[str, Any]:
    params = decoded.get("params", {})
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise RpcError(INVALID_PARAMS, "params must be an object.")
    return params


def reply(request_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    """A successful JSON-RPC response."""
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_reply(request_id: Any, error: RpcError) -> dict[str, Any]:
    """A JSON-RPC error response (`id` null when the request's id could not be read)."""
    return {"jsonrpc": "2.0", "id": request_id, "error": error.error()}
