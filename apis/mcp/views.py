"""/mcp, the Streamable HTTP transport, and its RFC 9728 protected-resource metadata.

An async Django view on the data plane's event loop rather than the official SDK's server:
every tool call runs through the gateway pipeline (the plan's limits, quotas, accounting) with
the gateway's own access tokens, so MCP needs one pipeline and one auth, not a second app.
The SDK's server is a Starlette app with its own lifespan and task group, and it keeps its
sessions in the memory of one process; ours live in the shared cache, so any process serves
any session.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from apis.gateway.view import GatewayView
from apis.mcp import handshake, modern, responses
from apis.mcp.auth import authenticate
from apis.mcp.calls import Caller
from apis.mcp.conf import mcp_settings
from apis.mcp.jsonrpc import HTTP_STATUS, INTERNAL_ERROR, INVALID_REQUEST, RpcError, parse
from apis.mcp.methods import HANDSHAKE_ERA
from apis.mcp.selectors import CALLABLE_STATES, callable_api_slugs
from apis.models import Api
from apis.selectors import gateway_api
from core.streaming import request_body
from keys.conf import keys_settings
from keys.errors import InvalidToken

logger = logging.getLogger(__name__)


@method_decorator(csrf_exempt, name="dispatch")
class McpView(View):
    """POST carries JSON-RPC; DELETE ends a handshake-era session; GET streams nothing (405).

    Every handler is async: the view runs on the event loop, on the warm path without a thread.
    """

    http_method_names = ["get", "post", "delete"]

    # Django runs a View whose handlers are all async as a coroutine (dispatch included); the
    # stubs type View's methods as sync only, hence the ignores on the overrides below.
    async def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:  # type: ignore[override]
        if not origin_allowed(request):
            return responses.transport_error(403, RpcError(INVALID_REQUEST, "Origin not allowed."))
        try:
            return await super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        except InvalidToken as refusal:
            error = RpcError(INVALID_REQUEST, refusal.detail)
            return responses.transport_error(401, error, refusal.headers)
        except handshake.SessionRefused as refusal:
            return responses.transport_error(refusal.status, refusal.error)
        except RpcError as error:
            return responses.transport_error(HTTP_STATUS.get(error.code, 400), error)

    async def http_method_not_allowed(  # type: ignore[override]
        self, request: HttpRequest, *args, **kwargs
    ) -> HttpResponse:
        allow = modern.ALLOW if is_modern(request) else handshake.ALLOW
        return responses.empty(405, allow)

    async def get(self, request: HttpRequest, slug: str = "") -> HttpResponse:
        # No standalone server-to-client stream: every answer rides on its POST.
        return await self.http_method_not_allowed(request)

    async def delete(self, request: HttpRequest, slug: str = "") -> HttpResponse:
        if is_modern(request):
            return await self.http_method_not_allowed(request)
        return await handshake.delete(request, await caller_of(request))

    async def post(self, request: HttpRequest, slug: str = "") -> HttpResponse:
        caller = await caller_of(request)
        form = responses.answer_format(request)
        if form is None:
            detail = "Accept application/json or text/event-stream."
            return responses.transport_error(406, RpcError(INVALID_REQUEST, detail))
        if request.content_type != responses.JSON:
            detail = "Content-Type must be application/json."
            return responses.transport_error(415, RpcError(INVALID_REQUEST, detail))
        body = await request_body(request, limit=mcp_settings.BODY_LIMIT)
        if body is None:
            detail = f"The message is larger than {mcp_settings.BODY_LIMIT} bytes."
            return responses.transport_error(413, RpcError(INVALID_REQUEST, detail))
        message = parse(body)
        transport = modern if is_modern(request) else handshake
        try:
            return await transport.post(request, message, caller, form, only_api=slug)
        except (RpcError, InvalidToken, handshake.SessionRefused):
            raise
        except Exception:
            # A tool's failure must reach the agent as a JSON-RPC error, never as a 500 page.
            logger.exception("MCP request %s failed", caller.request_id)
            error = RpcError(INTERNAL_ERROR, f"Internal error (request {caller.request_id}).")
            return responses.message({"jsonrpc": "2.0", "id": message.id, "error": error.error()})


class ApiMcpView(McpView):
    """/gw/<slug>/mcp: one API's tools, prompts and resources alone, for an agent given one server.

    A REST API's upstream may have a path /mcp of its own: there, as for an API nobody may call,
    the gateway answers as it does for any other path.
    """

    async def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:  # type: ignore[override]
        api = await gateway_api(kwargs["slug"])
        if api is None or api.kind == Api.Kind.REST or api.state not in CALLABLE_STATES:
            response = GatewayView.as_view()(request, slug=kwargs["slug"], path="mcp")
            return await response if asyncio.iscoroutine(response) else response
        return await super().dispatch(request, *args, **kwargs)


def is_modern(request: HttpRequest) -> bool:
    """Handshake-era versions (or none) go to the session transport; any other is per-request.

    So an unknown version meets the per-request checks, which refuse it with 400.
    """
    version = request.headers.get("MCP-Protocol-Version")
    return version is not None and version not in HANDSHAKE_ERA


def origin_allowed(request: HttpRequest) -> bool:
    """No Origin (not a browser), our own origin, or one the settings allow (DNS rebinding)."""
    origin = request.headers.get("Origin")
    if not origin or origin in mcp_settings.ALLOWED_ORIGINS:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc == request.get_host()


async def caller_of(request: HttpRequest) -> Caller:
    """The authenticated caller of an /mcp request."""
    return Caller(
        claims=await authenticate(request),
        peer_address=request.META.get("REMOTE_ADDR", ""),
        scheme=request.scheme or "http",  # Django's own default; the stubs allow None
        host=request.get_host(),
        request_id=uuid.uuid4().hex,
    )


def protected_resource_metadata(request: HttpRequest) -> JsonResponse:
    """RFC 9728 metadata: this resource, its authorization server, scopes and token methods."""
    return JsonResponse(
        {
            "resource": request.build_absolute_uri(reverse("mcp")),
            "authorization_servers": [keys_settings.ISSUER],
            "scopes_supported": callable_api_slugs(),
            "bearer_methods_supported": ["header"],
            "resource_name": "Portcullis MCP",
        }
    )
