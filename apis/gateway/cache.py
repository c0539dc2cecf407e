"""Step 5: answers to GET and HEAD on APIs with a cache_ttl, kept in the shared cache.

An application never receives another application's cached answer unless the API is marked
public_cache. Upstream `Cache-Control: no-store`, `private` or `no-cache` answers are never
stored, nor are answers that vary on a request header other than Accept-Encoding, which is part
of the key; an upstream `s-maxage` or `max-age` shorter than the API's cache_ttl wins. A client
sending `Cache-Control: no-cache` gets a fresh answer, and one sending `no-store` leaves none.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from apis.conf import gateway_settings
from apis.gateway.context import GatewayContext, as_chunks
from apis.gateway.errors import SHARED_CACHE_ERRORS
from core import shared
from core.clock import clock

CACHEABLE_METHODS = ("GET", "HEAD")
# no-cache: the upstream wants every use revalidated, which a stored copy cannot do.
UNSTORABLE_DIRECTIVES = ("no-store", "private", "no-cache")
# Request headers the cache key holds; an answer varying on any other one is not stored.
KEYED_REQUEST_HEADERS = frozenset({"accept-encoding"})


@dataclass(frozen=True)
class StoredAnswer:
    """An upstream answer as the cache keeps it."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    stored_at: float


async def serve_cached(ctx: GatewayContext) -> None:
    """Answer from the cache when it holds this call's answer; mark the call HIT or MISS."""
    if not cacheable_request(ctx):
        return
    if "no-cache" in _cache_control(ctx.header("Cache-Control")):
        ctx.cache_status = "MISS"  # the client asks for a fresh answer, which may be stored
        return
    entry = ctx.cache_entry if ctx.cache_peeked else await _get(cache_key(ctx))
    if not isinstance(entry, StoredAnswer):
        ctx.cache_status = "MISS"
        return
    ctx.status, ctx.response_body = entry.status, entry.body
    # RFC 9111 §5.1: an answer from a cache says how long ago its upstream gave it.
    age = max(int(clock.time() - entry.stored_at), 0)
    ctx.response_headers = {**dict(entry.headers), "Age": str(age)}
    ctx.cache_status = "HIT"


def store(ctx: GatewayContext) -> None:
    """Keep the upstream's answer once it has streamed through, when it may be kept."""
    if ctx.cache_status != "MISS":
        return
    upstream = _cache_control(_response_header(ctx, "Cache-Control"))
    ttl = _ttl(ctx, upstream)
    if ttl > 0 and _storable(ctx, upstream):
        ctx.response_body = _tee(ctx, as_chunks(ctx.response_body), ttl)


def cache_key(ctx: GatewayContext) -> str:
    """API, method, path, query, accepted encodings and (unless the API is public) application.

    The encodings are in the key because the upstream may compress for one client and not for
    another: a gzip body must never reach a client that did not ask for it.
    """
    audience = "public" if ctx.api.public_cache else f"app:{ctx.claims.application_id}"
    encodings = ctx.header("Accept-Encoding").replace(" ", "").lower()
    request = f"{ctx.method}\n{ctx.path}\n{ctx.query_string}\n{encodings}".encode()
    return f"gw:resp:{ctx.api.pk}:{audience}:{hashlib.sha256(request).hexdigest()}"


def cacheable_request(ctx: GatewayContext) -> bool:
    """GET or HEAD on an API with a cache_ttl."""
    return ctx.api.cache_ttl > 0 and ctx.method in CACHEABLE_METHODS


async def _get(key: str) -> StoredAnswer | None:
    try:
        return await shared.get(key)
    except SHARED_CACHE_ERRORS:
        return None


def _storable(ctx: GatewayContext, upstream: dict[str, str]) -> bool:
    vary = _response_header(ctx, "Vary")
    varies = {name.strip().lower() for name in vary.split(",") if name.strip()}
    return (
        ctx.status == 200
        and "no-store" not in _cache_control(ctx.header("Cache-Control"))
        and not ctx.set_cookies
        and not set(upstream).intersection(UNSTORABLE_DIRECTIVES)
        and varies <= KEYED_REQUEST_HEADERS
    )


def _response_header(ctx: GatewayContext, name: str) -> str:
    wanted = name.lower()
    return next((v for k, v in ctx.response_headers.items() if k.lower() == wanted), "")


def _cache_control(value: str) -> dict[str, str]:
    """Cache-Control directives (RFC 9111 §5.2), by lower-case name, with their values."""
    pairs = (part.strip().partition("=") for part in value.split(",") if part.strip())
    return {name.lower(): argument.strip('"') for name, _, argument in pairs}


def _ttl(ctx: GatewayContext, upstream: dict[str, str]) -> int:
    """The API's cache_ttl, shortened to the upstream's s-maxage or max-age when it says less."""
    freshness = upstream.get("s-maxage", upstream.get("max-age", ""))
    if freshness.isdigit():
        return min(ctx.api.cache_ttl, int(freshness))
    return ctx.api.cache_ttl


async def _tee(ctx: GatewayContext, chunks: AsyncIterator[bytes], ttl: int) -> AsyncIterator[bytes]:
    kept: list[bytes] | None = []
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if kept is not None and size <= gateway_settings.CACHE_MAX_BODY:
                kept.append(chunk)
            else:
                kept = None
            yield chunk
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
    if kept is not None:
        await _put(ctx, b"".join(kept), ttl)


async def _put(ctx: GatewayContext, body: bytes, ttl: int) -> None:
    entry = StoredAnswer(ctx.status, tuple(ctx.response_headers.items()), body, clock.time())
    try:
        await shared.set(cache_key(ctx), entry, ttl)
    except SHARED_CACHE_ERRORS:
        return
