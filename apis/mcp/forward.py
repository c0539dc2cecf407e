"""The gateway's forward step for `mcp` APIs: one JSON-RPC request relayed to the upstream.

The request arrives as the call's body (`{"method", "params"}`, built by apis.mcp); the answer
goes back as the upstream's result, or as a GatewayError naming the API, within its timeout.
"""

from __future__ import annotations

import asyncio
import json

import httpx

from apis.gateway.context import AdmittedCall
from apis.gateway.errors import GatewayError
from apis.gateway.forward import upstream_credential
from apis.mcp import upstream as client
from apis.mcp.credentials import sealed_credential_of
from apis.mcp.relay import relay, sessions_of
from apis.models import Api
from apis.selectors import gateway_api
from core.parsers import strict_json

JSON = {"Content-Type": "application/json"}


async def forward_mcp(call: AdmittedCall) -> None:
    """Relay the call's JSON-RPC request to the API's MCP server in the caller's session."""
    request, api, application_id = call.request, call.api, call.claims.application_id
    if request.channel != "mcp" or not isinstance(request.body, bytes):
        # Only the MCP endpoints build these requests, after the plan's tool checks.
        raise GatewayError(
            404, "Not found", f"The MCP server '{api.slug}' answers at /gw/{api.slug}/mcp."
        )
    message = strict_json(request.body)
    check_granted(call, message)
    upstream = await upstream_for(api, application_id=application_id)
    seconds = min(api.timeout, api.total_timeout or api.timeout)
    try:
        async with asyncio.timeout(seconds):
            result = await relay(
                upstream,
                api_slug=api.slug,
                revision=api.mcp_revision,
                owner=request.mcp_owner or f"application-{application_id}",
                method=message["method"],
                params=message["params"],
            )
    except TimeoutError as exc:
        detail = f"The MCP server of '{api.slug}' did not answer within {seconds} s."
        raise GatewayError(504, "Upstream timeout", detail) from exc
    except client.UpstreamFailure as exc:
        detail = f"The MCP server of '{api.slug}' {exc.detail}."
        raise GatewayError(502, "Bad gateway", detail) from exc
    except client.UpstreamRpcError as exc:
        detail = f"The MCP server of '{api.slug}' answered: {exc.message}"
        raise GatewayError(502, "Upstream error", detail, code=exc.code) from exc
    call.outcome.status = 200
    call.outcome.headers = dict(JSON)
    call.outcome.body = json.dumps(result).encode()


def check_granted(call: AdmittedCall, message: dict) -> None:
    """A tools/call names a tool the plan grants (the MCP layer lists no others): else 403."""
    tool = message["params"].get("name") if message["method"] == "tools/call" else None
    if tool is not None and not call.plan.grants(tool):
        raise GatewayError(
            403, "Tool not granted", f"The plan of '{call.api.slug}' does not grant '{tool}'."
        )


async def upstream_for(api: Api, *, application_id: int) -> client.Upstream:
    """The API's MCP server with the credential of the API, or of the calling application."""
    sealed = api.upstream_secret
    if api.credential_per_application:
        sealed = await sealed_credential_of(application_id=application_id, api_id=api.pk)
        if not sealed:
            raise GatewayError(
                403,
                "Upstream credential missing",
                f"The API '{api.slug}' needs your own credential for its MCP server: store it "
                "for this application in the portal (Applications), then call again.",
            )
    timeout = httpx.Timeout(api.timeout, connect=api.connect_timeout)
    return client.Upstream(api.upstream_url, credential_headers(api, sealed), timeout)


def credential_headers(api: Api, sealed: str) -> dict[str, str]:
    """The header carrying the upstream credential; a bare token in Authorization is a Bearer."""
    if not sealed or not api.upstream_header:
        return {}
    value = upstream_credential(sealed)
    if api.upstream_header.lower() == "authorization" and " " not in value.strip():
        value = f"Bearer {value.strip()}"
    return {api.upstream_header: value}


async def close_sessions(owner: str, *, application_id: int) -> None:
    """End the owner's upstream sessions: its caller's session has ended."""
    for slug, session in (await sessions_of(owner)).items():
        api = await gateway_api(slug)
        if api is None:
            continue
        try:
            upstream = await upstream_for(api, application_id=application_id)
        except GatewayError:
            continue
        await client.close_session(upstream, session)
