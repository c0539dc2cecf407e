"""The /gw/<slug>/<path> proxy view: an HttpRequest in, the pipeline's streamed answer out."""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass
from typing import IO

from django.http import HttpRequest, StreamingHttpResponse
from rest_framework.request import Request
from rest_framework.views import APIView

from apis.conf import gateway_settings
from apis.gateway.context import GatewayContext
from apis.gateway.pipeline import handle
from apis.gateway.respond import GatewayResponse

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:+=/@-]{1,128}$")


class GatewayView(APIView):
    """Any method: DRF neither authenticates, parses nor throttles here; the pipeline does."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    @property
    def default_response_headers(self) -> dict[str, str]:
        # DRF would set Allow and Vary on every answer, over the upstream's own.
        return {}

    def perform_content_negotiation(self, request: Request, force: bool = False):
        # The upstream decides what it answers; the client's Accept is its business.
        return super().perform_content_negotiation(request, force=True)

    def proxy(self, request: Request, slug: str, path: str = "") -> StreamingHttpResponse:
        return streaming_response(handle(context_from_request(request._request, slug, path)))

    get = post = put = patch = delete = head = options = trace = proxy


def context_from_request(request: HttpRequest, slug: str, path: str) -> GatewayContext:
    """The gateway context of an incoming HTTP request."""
    peer = request.META.get("REMOTE_ADDR", "")
    chain = _trusted_chain(peer, request.META.get("HTTP_X_FORWARDED_FOR", ""))
    chunked = _chunked_input(request)
    return GatewayContext(
        method=request.method,
        slug=slug,
        path=path,
        query_string=request.META.get("QUERY_STRING", ""),
        headers=request.headers,
        body=chunked.stream if chunked else request,
        content_length=_content_length(request),
        chunked=bool(chunked),
        peer_address=peer,
        forwarded_chain=chain,
        client_address=client_address(peer, chain),
        scheme=request.scheme,
        host=request.get_host(),
        request_id=_request_id(request.headers.get("X-Request-ID", "")),
    )


class ProxiedResponse(StreamingHttpResponse):
    """A streamed answer that repeats the upstream's Set-Cookie lines untouched.

    Django keeps one value per header name and re-serialises its own cookies; the WSGI handler
    sends every pair of items(), so the upstream's cookies are added there verbatim. The
    portal's Content-Security-Policy is the portal's: an upstream's answer goes without it.
    """

    _csp_exempt = True
    _csp_exempt_ro = True

    def __init__(self, *args, set_cookies: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.set_cookies = set_cookies

    def items(self):
        return [*super().items(), *(("Set-Cookie", value) for value in self.set_cookies)]


def streaming_response(answer: GatewayResponse) -> StreamingHttpResponse:
    """A Django response streaming the pipeline's answer; closing it accounts the call."""
    response = ProxiedResponse(answer.body, status=answer.status, set_cookies=answer.set_cookies)
    if not any(name.lower() == "content-type" for name in answer.headers):
        del response["Content-Type"]
    for name, value in answer.headers.items():
        response[name] = value
    return response


def client_address(peer: str, chain: list[str]) -> str:
    """The first address, from the right, that is not one of our trusted proxies."""
    for address in reversed(chain):
        if not _trusted(address):
            return address
    return chain[0] if chain else peer


def _trusted_chain(peer: str, forwarded_for: str) -> list[str]:
    # X-Forwarded-For is believed only when the direct peer is a proxy we trust.
    if not forwarded_for or not _trusted(peer):
        return []
    return [part.strip() for part in forwarded_for.split(",") if part.strip()]


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net) for net in gateway_settings.TRUSTED_PROXIES)


def _content_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) or None
    except ValueError:
        return None


@dataclass(frozen=True)
class ChunkedBody:
    """A request body sent chunked; `stream` is None when the server cannot de-chunk it."""

    stream: IO[bytes] | None


def _chunked_input(request: HttpRequest) -> ChunkedBody | None:
    """The raw input of a chunked request body, None for a body with a length (or none).

    Django reads a request body only up to its Content-Length, so a chunked upload looks empty;
    servers that de-chunk (gunicorn sets wsgi.input_terminated) let the gateway stream it on.
    """
    if request.META.get("HTTP_TRANSFER_ENCODING", "").lower() != "chunked":
        return None
    terminated = request.META.get("wsgi.input_terminated")
    return ChunkedBody(request.META["wsgi.input"] if terminated else None)


def _request_id(incoming: str) -> str:
    return incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
