"""The handshake-era transport (2025-06-18, 2025-11-25): initialize, then sessions."""

from __future__ import annotations

from dataclasses import replace

from django.http import HttpRequest, HttpResponse

from apis.mcp import methods, responses, sessions
from apis.mcp.calls import Caller
from apis.mcp.forward import close_sessions
from apis.mcp.jsonrpc import INVALID_REQUEST, Message, RpcError, error_reply, reply
from apis.mcp.methods import Exchange

SESSION_HEADER = "Mcp-Session-Id"
ALLOW = {"Allow": "POST, DELETE"}


async def post(
    request: HttpRequest, message: Message, caller: Caller, form: str, only_api: str = ""
) -> HttpResponse:
    """Answer one posted message of a handshake-era client."""
    if message.method == "initialize" and message.is_request:
        return await _initialize(message, caller, form)
    session = await _session(request, caller)
    if not message.is_request:
        # notifications/initialized and the client's other notifications need no answer.
        return responses.empty(202, {SESSION_HEADER: session.id})
    exchange = Exchange(
        modern=False, caller=replace(caller, session_id=session.id), only_api=only_api
    )
    payload = await _run(message, exchange)
    return responses.message(payload, form=form, headers={SESSION_HEADER: session.id})


async def delete(request: HttpRequest, caller: Caller) -> HttpResponse:
    """End the session named in the request."""
    session = await _session(request, caller)
    await sessions.session_end(session)
    await close_sessions(session.id, application_id=session.application_id)
    return responses.empty(204)


async def _initialize(message: Message, caller: Caller, form: str) -> HttpResponse:
    result = methods.initialize_result(message.params.get("protocolVersion"))
    session = await sessions.session_start(
        application_id=caller.claims.application_id, protocol_version=result["protocolVersion"]
    )
    headers = {SESSION_HEADER: session.id}
    return responses.message(reply(message.id, result), form=form, headers=headers)


async def _session(request: HttpRequest, caller: Caller) -> sessions.Session:
    session_id = request.headers.get(SESSION_HEADER, "")
    if not session_id:
        raise SessionRefused(400, "Missing Mcp-Session-Id header: send initialize first.")
    session = await sessions.session_for(session_id, application_id=caller.claims.application_id)
    if session is None:
        raise SessionRefused(404, "Unknown or ended session: initialize a new one.")
    return session


async def _run(message: Message, exchange: Exchange) -> dict:
    try:
        return reply(message.id, await methods.dispatch(message.method, message.params, exchange))
    except RpcError as error:
        return error_reply(message.id, error)


class SessionRefused(Exception):
    """The request names no usable session (400) or an unknown one (404)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = RpcError(INVALID_REQUEST, detail)
