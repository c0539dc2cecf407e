"""How /mcp answers: one JSON-RPC message as JSON or as a single SSE event, or an empty status."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse

from apis.mcp.jsonrpc import RpcError, error_reply

JSON = "application/json"
SSE = "text/event-stream"


def accepted_media(request: HttpRequest) -> dict[str, float]:
    """The Accept header as {media type: quality}; absent means anything."""
    accepted: dict[str, float] = {}
    for part in request.headers.get("Accept", "*/*").split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        quality = next((p[2:] for p in parameters if p.startswith("q=")), "1")
        try:
            accepted[media.lower()] = float(quality)
        except ValueError:
            accepted[media.lower()] = 0.0
    return accepted


def answer_format(request: HttpRequest) -> str | None:
    """JSON unless the client asks for SSE (only it, or ranked above JSON); None: neither."""
    accepted = accepted_media(request)
    anything = max(accepted.get("*/*", 0.0), accepted.get("application/*", 0.0))
    json_q = accepted.get(JSON, anything)
    sse_q = accepted.get(SSE, accepted.get("text/*", 0.0))
    if sse_q > json_q:
        return SSE
    return JSON if json_q > 0 else None


def message(
    payload: dict[str, Any], *, status: int = 200, form: str = JSON, headers: dict | None = None
) -> HttpResponse:
    """One JSON-RPC message in the chosen format."""
    data = json.dumps(payload, separators=(",", ":"))
    if form == SSE:
        response = HttpResponse(
            f"event: message\ndata: {data}\n\n", status=status, content_type=SSE
        )
        response["Cache-Control"] = "no-cache, no-transform"
    else:
        response = HttpResponse(data, status=status, content_type=JSON)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def transport_error(status: int, error: RpcError, headers: dict | None = None) -> HttpResponse:
    """An HTTP-level refusal with a JSON-RPC error body that names no request."""
    return message(error_reply(None, error), status=status, headers=headers)


def empty(status: int, headers: dict | None = None) -> HttpResponse:
    """A status without a body (202 for notifications, 204 for an ended session, 405)."""
    response = HttpResponse(status=status)
    del response["Content-Type"]
    for name, value in (headers or {}).items():
        response[name] = value
    return response
