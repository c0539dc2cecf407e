"""Step 6: the call goes to the API's upstream; rest kind here, the others where they register."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import secrets
from collections.abc import AsyncGenerator, Awaitable
from typing import TypeVar
from urllib.parse import quote, unquote

import httpx

from apis.conf import gateway_settings
from apis.gateway import capacity, kinds, targets
from apis.gateway.context import AdmittedCall, GatewayRequest, ReleasingStream
from apis.gateway.errors import GatewayError
from apis.gateway.http_client import upstream_client
from apis.gateway.request_body import body_chunks, too_large
from apis.models import Api
from apis.models.catalog import UPSTREAM_CREDENTIAL
from keys.kek import unseal

logger = logging.getLogger(__name__)

Result = TypeVar("Result")

REFUSED_METHODS = frozenset({"TRACE", "CONNECT"})
ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Set by the gateway itself, or never to be passed on (the client's token stays here).
NOT_FORWARDED = frozenset(
    {"host", "authorization", "content-length", "x-request-id", "forwarded"}
    | {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "traceparent"}
)
# As nginx does: the answer's Date is the gateway's, and the upstream's software stays unnamed.
SET_BY_THE_SERVER = frozenset({"date", "server"})
TRACEPARENT = re.compile(r"^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")
PATH_SAFE = "!$&'()*+,;=:@-._~"
BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
QUERY_SAFE = PATH_SAFE + "/?%[]"


async def forward(call: AdmittedCall) -> None:
    """Hand the call to the forwarder of the API's kind, within the process's capacity."""
    forwarder = kinds.forwarder_of(call.api.kind)
    capacity.claim(call.outcome)
    await forwarder(call)


def check_method(request: GatewayRequest) -> None:
    """TRACE would echo the credential the gateway adds upstream; CONNECT opens a tunnel: 405."""
    if request.method in REFUSED_METHODS:
        raise GatewayError(
            405,
            "Method not allowed",
            f"The gateway does not forward {request.method}.",
            headers={"Allow": ALLOWED_METHODS},
        )


def check_body_size(request: GatewayRequest) -> None:
    """Refuse a declared body over the limit before anything is read (413)."""
    if request.content_length is not None and request.content_length > gateway_settings.BODY_LIMIT:
        raise too_large()


async def forward_rest(call: AdmittedCall) -> None:
    """Stream the request to the upstream (or a target) + path and its answer back, untouched."""
    deadline = upstream_deadline(call.api)

    async def send(base: str) -> httpx.Response:
        return await _send(call, base, deadline)

    try:
        if call.api.listed_targets:
            response, release = await targets.send_balanced(call, send)
        else:
            response = await send(call.api.upstream_url)
            release = response.aclose
    except (httpx.TimeoutException, TimeoutError) as exc:
        raise GatewayError(504, "Upstream timeout", _no_answer(call.api, "in time")) from exc
    except httpx.TransportError as exc:
        detail = _no_answer(call.api, "(refused or reset)")
        raise GatewayError(502, "Bad gateway", detail) from exc
    outcome = call.outcome
    outcome.status = response.status_code
    outcome.headers = _response_headers(response.headers)
    outcome.set_cookies = [
        line
        for line in response.headers.get_list("set-cookie")
        if line.partition("=")[0].strip() not in gateway_settings.PORTAL_COOKIES
    ]
    outcome.body = ReleasingStream(upstream_body(response, deadline), release)


async def _send(call: AdmittedCall, base: str, deadline: float | None) -> httpx.Response:
    request = call.request
    # Built as it goes: the pooled client has no headers, cookies or base URL to merge in, and
    # merging nothing through its `build_request` costs as much as the request itself.
    outgoing = httpx.Request(
        request.method,
        upstream_url(base, request.raw_path or request.path, request.query_string),
        headers=upstream_headers(call),
        content=body_chunks(call) if request.content_length or request.chunked else None,
        extensions={"timeout": upstream_timeout(call.api).as_dict()},
    )
    return await until(deadline, upstream_client().send(outgoing, stream=True))


def upstream_timeout(api: Api) -> httpx.Timeout:
    """The API's connect timeout, and its read/write timeout between two pieces of data."""
    return httpx.Timeout(api.timeout, connect=api.connect_timeout)


async def until(deadline: float | None, awaitable: Awaitable[Result]) -> Result:
    """The awaitable's result, or TimeoutError once the deadline has passed."""
    if deadline is None:
        # Most APIs set no total timeout: a timeout scope on every chunk would cost for nothing.
        return await awaitable
    async with asyncio.timeout_at(deadline):
        return await awaitable


def upstream_deadline(api: Api) -> float | None:
    """When the whole upstream exchange must be over (the total timeout), on the loop clock."""
    if not api.total_timeout:
        return None
    return asyncio.get_running_loop().time() + api.total_timeout


def upstream_url(base: str, path: str, query_string: str) -> httpx.URL:
    """The upstream URL of a call: never outside the upstream's host or path prefix."""
    upstream = _parsed_url(base)
    segments = normalised_segments(path)
    full = upstream.path.rstrip("/")
    if segments:
        full += "/" + "/".join(_escaped(segment) for segment in segments)
    if path.endswith("/") or not full:
        full += "/"
    # The query goes as the client sent it; only bytes a URL cannot carry are escaped.
    query = quote(query_string, safe=QUERY_SAFE)
    raw = full + (f"?{query}" if query else "")
    return upstream.copy_with(raw_path=raw.encode("ascii"))


@functools.lru_cache(maxsize=1024)
def _parsed_url(base: str) -> httpx.URL:
    # An upstream's base URL is the same on every call; a URL is immutable.
    return httpx.URL(base)


def _escaped(segment: str) -> str:
    """A raw path segment as the client sent it: its percent-escapes kept, other bytes escaped."""
    return BARE_PERCENT.sub("%25", quote(segment, safe=PATH_SAFE + "%"))


def normalised_segments(path: str) -> list[str]:
    """The path's segments with `.`, `..` (however often percent-encoded) and `//` resolved."""
    kept: list[str] = []
    for segment in path.split("/"):
        plain = _fully_unquoted(segment)
        if plain in ("", "."):
            continue
        if plain == "..":
            if not kept:
                raise GatewayError(400, "Invalid path", "The path climbs above the API's root.")
            kept.pop()
            continue
        kept.append(segment)
    return kept


def _fully_unquoted(segment: str) -> str:
    for _ in range(4):
        decoded = unquote(segment)
        if decoded == segment:
            break
        segment = decoded
    return segment


def upstream_headers(call: AdmittedCall) -> dict[str, str]:
    """The client's headers minus hop-by-hop and the token, plus the forwarding headers."""
    request, api = call.request, call.api
    named_in_connection = {t.strip().lower() for t in request.header("Connection").split(",")}
    dropped = HOP_BY_HOP | NOT_FORWARDED | named_in_connection
    headers = {k: v for k, v in request.headers.items() if k.lower() not in dropped}
    cookies = _without_portal_cookies(request.header("Cookie"))
    headers = {k: v for k, v in headers.items() if k.lower() != "cookie"}
    if cookies:
        headers["Cookie"] = cookies
    if request.content_length:
        headers["Content-Length"] = str(request.content_length)
    forwarding = {
        "X-Forwarded-For": _forwarded_for(request),
        "X-Forwarded-Proto": request.scheme,
        "X-Forwarded-Host": request.host,
        "X-Request-ID": request.request_id,
        "traceparent": _traceparent(request.header("traceparent")),
    }
    headers.update({name: value for name, value in forwarding.items() if value})
    if api.upstream_header and api.upstream_secret:
        headers = {k: v for k, v in headers.items() if k.lower() != api.upstream_header.lower()}
        headers[api.upstream_header] = upstream_credential(api.upstream_secret)
    return headers


@functools.lru_cache(maxsize=256)
def upstream_credential(sealed: str) -> str:
    """The API's upstream secret in clear; kept in process memory only, never in the cache."""
    return unseal(sealed, purpose=UPSTREAM_CREDENTIAL).decode()


def _without_portal_cookies(header: str) -> str:
    """The Cookie header without the portal's session, CSRF and device cookies."""
    pairs = (pair.strip() for pair in header.split(";") if pair.strip())
    kept = [p for p in pairs if p.partition("=")[0].strip() not in gateway_settings.PORTAL_COOKIES]
    return "; ".join(kept)


def _forwarded_for(request: GatewayRequest) -> str:
    chain = request.forwarded_chain
    return ", ".join([*chain, request.peer_address]) if chain else request.peer_address


def _traceparent(incoming: str) -> str:
    # W3C Trace Context: keep the caller's trace, or start one so the upstream can join it.
    if TRACEPARENT.match(incoming.strip()):
        return incoming.strip()
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def _response_headers(headers: httpx.Headers) -> dict[str, str]:
    named_in_connection = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    dropped = HOP_BY_HOP | named_in_connection | SET_BY_THE_SERVER | {"set-cookie"}
    kept: dict[str, str] = {}
    for name, value in headers.multi_items():
        if name.lower() not in dropped:
            kept[name] = f"{kept[name]}, {value}" if name in kept else value
    return kept


def _no_answer(api: Api, how: str) -> str:
    return f"The upstream of '{api.slug}' did not answer {how}."


async def upstream_body(
    response: httpx.Response, deadline: float | None
) -> AsyncGenerator[bytes, None]:
    """The upstream's body as it arrives, until the deadline; closing it ends the upstream call.

    Closed early (the client went away), the connection is dropped rather than drained, so the
    upstream sees the call end.
    """
    chunks = response.aiter_raw()  # as it arrives: a chunk size would hold an SSE stream back
    try:
        while (chunk := await until(deadline, anext(chunks, None))) is not None:
            yield chunk
    except (httpx.TransportError, TimeoutError):
        # Headers are already on their way: all a proxy can do is cut the answer short.
        logger.warning("upstream body cut short: %s", response.request.url)
    finally:
        await response.aclose()
