"""Step 8: the answer the client sees, and the one place a GatewayError becomes a body."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import format_datetime

from apis.gateway.context import GatewayCall, GatewayRequest, as_chunks
from apis.gateway.errors import GatewayError
from apis.models import Api
from core.problems import PROBLEM_JSON
from lifecycle.states import State

# nginx's code for a request the client closed before the answer was complete.
CLIENT_CLOSED_REQUEST = 499
# OpenAI's error `type` per status, so that its SDKs raise the matching exception class.
OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    410: "not_found_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


@dataclass
class GatewayResponse:
    """What goes back to the client; iterate `body` to the end, then close it."""

    status: int
    headers: dict[str, str]
    body: AccountedBody
    set_cookies: list[str] = field(default_factory=list)


# Anthropic's error `type` per status, for its SDK on the Messages surface.
ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    410: "not_found_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
MESSAGES_SURFACE = "v1/messages"


def render_error(call: GatewayCall, error: GatewayError) -> None:
    """Set the error as the call's answer: on ai APIs the envelope of the surface's SDK
    (Anthropic's on /v1/messages, OpenAI's elsewhere), else problem+json."""
    outcome = call.outcome
    outcome.status = error.status
    if call.api is not None and call.api.kind == "ai":
        body, content_type = _ai_error(call.request, error), "application/json"
    else:
        body, content_type = error.problem(), PROBLEM_JSON
    outcome.headers = {"Content-Type": content_type, **error.headers}
    outcome.set_cookies = []
    outcome.body = json.dumps(body).encode()


def respond(
    call: GatewayCall, on_close: Callable[[GatewayCall], Awaitable[None]]
) -> GatewayResponse:
    """The status, the upstream's headers plus the gateway's, and the body to stream."""
    outcome = call.outcome
    outcome.latency_ms = int((time.perf_counter() - call.started) * 1000)
    headers = {**outcome.headers, **gateway_headers(call)}
    body = AccountedBody(call, outcome.body, on_close)
    return GatewayResponse(outcome.status, headers, body, list(outcome.set_cookies))


def gateway_headers(call: GatewayCall) -> dict[str, str]:
    """X-Request-ID, RateLimit-Policy/RateLimit, X-Cache and the deprecation headers."""
    outcome = call.outcome
    headers = {"X-Request-ID": call.request.request_id}
    if outcome.policies:
        headers["RateLimit-Policy"] = ", ".join(
            f'"{p.name}";q={p.quota};w={p.window}' for p in outcome.policies
        )
        headers["RateLimit"] = ", ".join(
            f'"{p.name}";r={p.remaining};t={p.reset}' for p in outcome.policies
        )
    if outcome.cache_status:
        headers["X-Cache"] = outcome.cache_status
    if call.api is not None and call.api.state == State.DEPRECATED:
        headers.update(deprecation_headers(call.request, call.api))
    return headers


def deprecation_headers(request: GatewayRequest, api: Api) -> dict[str, str]:
    """Deprecation (RFC 9745), Sunset (RFC 8594) and a Link to the API's portal page."""
    headers = {"Link": f'<{_portal_url(request, api)}>; rel="deprecation"; type="text/html"'}
    if api.deprecated_at is not None:
        headers["Deprecation"] = f"@{int(api.deprecated_at.timestamp())}"
    if api.sunset is not None:
        headers["Sunset"] = format_datetime(api.sunset, usegmt=True)
    return headers


def _portal_url(request: GatewayRequest, api: Api) -> str:
    path = api.get_absolute_url()
    return f"{request.scheme}://{request.host}{path}" if request.host else path


def _ai_error(request: GatewayRequest, error: GatewayError) -> dict:
    if request.path.strip("/").startswith(MESSAGES_SURFACE):
        kind = ANTHROPIC_TYPES.get(error.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": error.detail or error.title}}
    return _openai_error(error)


def _openai_error(error: GatewayError) -> dict:
    code = error.extra.get("code") or error.title.lower().replace(" ", "_")
    kind = OPENAI_TYPES.get(error.status, "api_error")
    message = error.detail or error.title
    return {
        "error": {"message": message, "type": kind, "code": code, "param": error.extra.get("param")}
    }


class AccountedBody:
    """The answer's body; once closed, the call is accounted exactly once.

    Closed before its last chunk went out, the call is one the client gave up on: status 499,
    with the bytes sent so far.
    """

    def __init__(
        self,
        call: GatewayCall,
        body: bytes | AsyncIterator[bytes],
        on_close: Callable[[GatewayCall], Awaitable[None]],
    ) -> None:
        self.call = call
        # A streamed body is iterated as it is: a wrapper would be a generator step per chunk.
        self.chunks = as_chunks(body) if isinstance(body, bytes) else body
        self.on_close = on_close
        self.finished = False
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.chunks:
            self.call.outcome.bytes_out += len(chunk)
            yield chunk
        self.finished = True

    async def aclose(self) -> None:
        """Close the upstream's body if still open, then account the call."""
        if self.closed:
            return
        self.closed = True
        if not self.finished:
            self.call.outcome.status = CLIENT_CLOSED_REQUEST
        try:
            # Begun or not: a body that can be closed before it begins (an AI stream) needs it.
            close = getattr(self.chunks, "aclose", None)
            if close is not None:
                await close()
        finally:
            await self.on_close(self.call)
