"""The /gw/<slug>/<path> proxy view: an HttpRequest in, the pipeline's streamed answer out."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

from adrf.views import APIView
from django.http import HttpRequest, StreamingHttpResponse
from rest_framework.request import Request

from apis.gateway.context import GatewayRequest
from apis.gateway.pipeline import handle
from apis.gateway.respond import AccountedBody, GatewayResponse
from core.addresses import first_untrusted, trusted_chain

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:+=/@-]{1,128}$")
# The two headers WSGI and Django's META name without the HTTP_ prefix (PEP 3333).
UNPREFIXED_HEADERS = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}
METHODS = ["get", "post", "put", "patch", "delete", "head", "options", "trace", "connect"]


class GatewayView(APIView):
    """Any method: DRF neither authenticates, parses nor throttles here; the pipeline does."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    http_method_names = METHODS
    # Every handler is `proxy`, a coroutine: Django would inspect all nine on every call.
    view_is_async = True

    @property
    def default_response_headers(self) -> dict[str, str]:
        # DRF would set Allow and Vary on every answer, over the upstream's own.
        return {}

    def perform_authentication(self, request: Request) -> None:
        """The pipeline authenticates: DRF's user stays lazy, and nothing asks for it."""

    def perform_content_negotiation(self, request: Request, force: bool = False):
        # The upstream decides what it answers; the client's Accept is its business, not
        # something to negotiate on every call.
        renderer = self.get_renderers()[0]
        return renderer, renderer.media_type

    async def async_dispatch(self, request: HttpRequest, *args, **kwargs):
        # adrf runs initial() through sync_to_async, a thread per call; with no authentication,
        # permission or throttle classes it waits on nothing, so it runs here on the loop.
        self.args, self.kwargs = args, kwargs
        drf_request = self.initialize_request(request, *args, **kwargs)
        self.request, self.headers = drf_request, self.default_response_headers
        try:
            self.initial(drf_request, *args, **kwargs)
            response = await self.proxy(drf_request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(drf_request, response, *args, **kwargs)
        return self.response

    async def proxy(self, request: Request, slug: str, path: str = "") -> StreamingHttpResponse:
        return streaming_response(await handle(gateway_request(request._request, slug, path)))

    get = post = put = patch = delete = head = options = trace = connect = proxy


def gateway_request(request: HttpRequest, slug: str, path: str) -> GatewayRequest:
    """The gateway's view of an incoming HTTP request."""
    peer = request.META.get("REMOTE_ADDR", "")
    chain = trusted_chain(peer, request.META.get("HTTP_X_FORWARDED_FOR", ""))
    return GatewayRequest(
        method=request.method or "GET",
        slug=slug,
        path=path,
        raw_path=_raw_path(request, slug, path),
        query_string=request.META.get("QUERY_STRING", ""),
        headers=_headers(request.META),
        body=_body(request),
        content_length=_content_length(request),
        chunked=request.META.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked",
        peer_address=peer,
        forwarded_chain=tuple(chain),
        client_address=first_untrusted(peer, chain),
        scheme=request.scheme or "http",
        host=request.get_host(),
        request_id=_request_id(request.META.get("HTTP_X_REQUEST_ID", "")),
    )


class ProxiedResponse(StreamingHttpResponse):
    """A streamed answer that repeats the upstream's Set-Cookie lines untouched.

    Django keeps one value per header name and re-serialises its own cookies; the handlers
    send every pair of items(), so the upstream's cookies are added there verbatim. The
    portal's Content-Security-Policy is the portal's: an upstream's answer goes without it.
    """

    _csp_exempt = True
    _csp_exempt_ro = True

    def __init__(self, body: AccountedBody, *, status: int, set_cookies: list[str]) -> None:
        super().__init__(body, status=status)
        self.body = body
        self.set_cookies = set_cookies

    def items(self):
        return [*super().items(), *(("Set-Cookie", value) for value in self.set_cookies)]

    def __aiter__(self) -> AsyncIterator[bytes]:
        # The body's chunks are bytes already: Django's re-encoding wrapper would be one more
        # generator step per chunk.
        return aiter(self.body)

    async def aclose(self) -> None:
        """The answer is over, sent or abandoned: account the call (core.streaming calls this)."""
        await self.body.aclose()


def streaming_response(answer: GatewayResponse) -> StreamingHttpResponse:
    """A Django response streaming the pipeline's answer; closing it accounts the call."""
    response = ProxiedResponse(answer.body, status=answer.status, set_cookies=answer.set_cookies)
    if not any(name.lower() == "content-type" for name in answer.headers):
        del response["Content-Type"]
    for name, value in answer.headers.items():
        response[name] = value
    return response


def _headers(meta: dict[str, Any]) -> dict[str, str]:
    """The request's headers named as `request.headers` names them, read from META alone:
    Django's case-insensitive mapping parses every META entry, the server's variables too."""
    headers = {}
    for key, value in meta.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").title()] = value
        elif key in UNPREFIXED_HEADERS:
            headers[UNPREFIXED_HEADERS[key]] = value
    return headers


def _content_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) or None
    except ValueError:
        return None


def _raw_path(request: HttpRequest, slug: str, path: str) -> str:
    """The path after /gw/<slug>/ as the client sent it, escapes and all (ASGI's raw_path).

    The decoded path would turn an escape that is not UTF-8 (`%E9`) into another byte sequence
    upstream; without a raw path (another handler), the decoded one it is.
    """
    raw = getattr(request, "scope", {}).get("raw_path")
    prefix = f"{request.META.get('SCRIPT_NAME', '')}/gw/{slug}"
    if not raw:
        return path
    text = raw.decode("latin-1")
    if text == prefix:
        return ""
    return text.removeprefix(f"{prefix}/") if text.startswith(f"{prefix}/") else path


def _body(request: HttpRequest) -> AsyncIterator[bytes] | bytes:
    """The body as it arrives (core.streaming), or as another Django handler has read it."""
    chunks = getattr(request, "body_chunks", None)
    return chunks if chunks is not None else request.body


def _request_id(incoming: str) -> str:
    return incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
