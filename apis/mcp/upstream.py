"""The gateway as an MCP client of an upstream server: JSON-RPC requests over Streamable HTTP.

Handshake-era upstreams (2025-06-18, 2025-11-25) get `initialize` and a session; 2026-07-28
ones get self-contained requests carrying the `_meta` envelope and its mirroring headers. The
caller's access token never travels here: only the upstream credential the API names
(MCP authorization, "Access Token Privilege Restriction": no token passthrough).
"""

from __future__ import annotations

import base64
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from apis.ai.sse import EventSplitter, decoded
from apis.gateway.http_client import AnswerTooLarge, bounded_chunks, read_within, upstream_client
from apis.mcp.conf import mcp_settings
from apis.mcp.modern import CLIENT_CAPABILITIES_KEY, NAMED_PARAMS, PROTOCOL_VERSION_KEY

HANDSHAKE_VERSIONS = ("2025-06-18", "2025-11-25")
MODERN_VERSION = "2026-07-28"
CLIENT_INFO = {"name": "portcullis-gateway", "version": "0.1.0"}
ACCEPT = "application/json, text/event-stream"
SESSION_HEADER = "Mcp-Session-Id"
_request_ids = itertools.count(1)


class UpstreamFailure(Exception):
    """The upstream did not answer usefully: down, refused, or an HTTP error without JSON-RPC."""

    def __init__(self, detail: str, status: int = 0) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


class SessionExpired(UpstreamFailure):
    """404 for the session named: the upstream forgot it (expired, restarted)."""


class UpstreamRpcError(Exception):
    """The upstream answered with a JSON-RPC error object."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Upstream:
    """Where an MCP server is and what the gateway sends it besides the request."""

    url: str
    headers: dict[str, str]
    timeout: httpx.Timeout


@dataclass(frozen=True)
class Session:
    """A negotiated revision, the session id of a handshake-era upstream, its capabilities."""

    version: str
    id: str = ""
    capabilities: dict[str, Any] = field(default_factory=dict)

    @property
    def modern(self) -> bool:
        return self.version == MODERN_VERSION


async def open_session(upstream: Upstream, revision: str = "") -> Session:
    """A session at `revision`, or at the newest revision both sides speak when it is empty."""
    if revision in HANDSHAKE_VERSIONS:
        return await _initialize(upstream, revision)
    try:
        return await _discover(upstream)
    except UpstreamRpcError:
        if revision:
            raise
    except UpstreamFailure as exc:
        # A handshake-era server refuses the unknown version header with a 4xx of its own.
        if revision or not 400 <= exc.status < 500:
            raise
    return await _initialize(upstream, HANDSHAKE_VERSIONS[-1])


async def _discover(upstream: Upstream) -> Session:
    result = await request(upstream, Session(MODERN_VERSION), "server/discover", {})
    if MODERN_VERSION not in (result.get("supportedVersions") or []):
        raise UpstreamRpcError(-32022, "The upstream does not speak 2026-07-28.")
    return Session(MODERN_VERSION, capabilities=result.get("capabilities") or {})


async def _initialize(upstream: Upstream, version: str) -> Session:
    params = {"protocolVersion": version, "capabilities": {}, "clientInfo": CLIENT_INFO}
    result, headers = await _exchange(upstream, Session(""), "initialize", params)
    agreed = result.get("protocolVersion")
    if agreed not in HANDSHAKE_VERSIONS:
        raise UpstreamFailure(f"offered protocol version {agreed!r}, which the gateway lacks")
    session = Session(agreed, headers.get(SESSION_HEADER, ""), result.get("capabilities") or {})
    await _post(upstream, session, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    return session


async def request(
    upstream: Upstream, session: Session, method: str, params: dict[str, Any]
) -> dict[str, Any]:
    """The result of one request in the session; SessionExpired when the upstream forgot it."""
    result, _ = await _exchange(upstream, session, method, params)
    return result


async def close_session(upstream: Upstream, session: Session) -> None:
    """End a handshake-era session (DELETE); an upstream that cannot is left to expire it."""
    if not session.id:
        return
    request = upstream_client().build_request(
        "DELETE", upstream.url, headers=_headers(upstream, session, ""), timeout=upstream.timeout
    )
    try:
        # Streamed and closed unread: the answer's body says nothing the gateway needs.
        response = await upstream_client().send(request, stream=True)
        await response.aclose()
    except httpx.HTTPError:
        return


async def _exchange(
    upstream: Upstream, session: Session, method: str, params: dict[str, Any]
) -> tuple[dict[str, Any], httpx.Headers]:
    request_id = next(_request_ids)
    if session.modern:
        meta = {PROTOCOL_VERSION_KEY: MODERN_VERSION, CLIENT_CAPABILITIES_KEY: {}}
        params = {**params, "_meta": {**params.get("_meta", {}), **meta}}
    message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    response = await _post(upstream, session, message)
    try:
        answer = await _answer(response, request_id)
    finally:
        await response.aclose()
    if "error" in answer:
        error = answer["error"] if isinstance(answer["error"], dict) else {}
        raise UpstreamRpcError(int(error.get("code", -32603)), str(error.get("message", "")))
    result = answer.get("result")
    if not isinstance(result, dict):
        raise UpstreamFailure("answered without a result object")
    return result, response.headers


async def _post(upstream: Upstream, session: Session, message: dict[str, Any]) -> httpx.Response:
    method = message.get("method", "")
    headers = {**_headers(upstream, session, method), "Content-Type": "application/json"}
    named = NAMED_PARAMS.get(method)
    if session.modern and named and isinstance(message["params"].get(named), str):
        headers["Mcp-Name"] = header_value(message["params"][named])
    request = upstream_client().build_request(
        "POST",
        upstream.url,
        headers=headers,
        content=json.dumps(message).encode(),
        timeout=upstream.timeout,
    )
    try:
        response = await upstream_client().send(request, stream=True)
    except httpx.TimeoutException as exc:
        raise UpstreamFailure("did not answer in time") from exc
    except httpx.TransportError as exc:
        raise UpstreamFailure("could not be reached (refused or reset)") from exc
    if response.status_code == 404 and session.id:
        await response.aclose()
        raise SessionExpired("forgot the session", 404)
    return response


def _headers(upstream: Upstream, session: Session, method: str) -> dict[str, str]:
    headers = {"Accept": ACCEPT, **upstream.headers}
    if session.version:
        headers["MCP-Protocol-Version"] = session.version
    if session.id:
        headers[SESSION_HEADER] = session.id
    if session.modern and method:
        headers["Mcp-Method"] = method
    return headers


def header_value(value: str) -> str:
    """A value as a 2026-07-28 routing header carries it: plain visible ASCII, else base64."""
    if value.isascii() and value.isprintable() and value.strip() == value:
        return value
    return f"=?base64?{base64.b64encode(value.encode()).decode()}?="


async def _answer(response: httpx.Response, request_id: int) -> dict[str, Any]:
    """The JSON-RPC response to `request_id`, whether it came as JSON or as an SSE stream."""
    content_type = response.headers.get("content-type", "")
    if content_type.startswith("text/event-stream"):
        return await _from_events(response, request_id)
    body = await _bounded_body(response)
    try:
        answer = json.loads(body) if body else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not ({"result", "error"} & answer.keys()):
        raise UpstreamFailure(f"answered HTTP {response.status_code}", response.status_code)
    return answer


async def _bounded_body(response: httpx.Response) -> bytes:
    try:
        return await read_within(response, mcp_settings.BODY_LIMIT)
    except AnswerTooLarge as exc:
        raise UpstreamFailure(f"answered more than {exc.limit} bytes") from exc


async def _from_events(response: httpx.Response, request_id: int) -> dict[str, Any]:
    # Notifications and progress may come first; the stream ends with the response. Every
    # byte counts against the limit, an unfinished line's too: a line that never ends holds
    # no more than that.
    splitter = EventSplitter(limit=mcp_settings.BODY_LIMIT)
    try:
        async for chunk in bounded_chunks(response, mcp_settings.BODY_LIMIT):
            for data in splitter.feed(chunk):
                answer = _event_message(decoded(data))
                if answer.get("id") == request_id and ({"result", "error"} & answer.keys()):
                    return answer
    except AnswerTooLarge as exc:
        raise UpstreamFailure(f"streamed more than {exc.limit} bytes") from exc
    raise UpstreamFailure("ended its event stream without an answer")


def _event_message(data: str) -> dict[str, Any]:
    try:
        message = json.loads(data)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}
