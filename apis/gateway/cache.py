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
from apis.gateway.context import AdmittedCall, CachePeek, as_chunks
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


async def serve_cached(call: AdmittedCall, peek: CachePeek) -> None:
    """Answer from the cache when it holds this call's answer; mark the call HIT or MISS.

    `peek` is what `limit` read under the call's key; without it, the cache is asked here.
    """
    if not cacheable_request(call):
        return
    outcome = call.outcome
    if "no-cache" in _cache_control(call.request.header("Cache-Control")):
        outcome.cache_status = "MISS"  # the client asks for a fresh answer, which may be stored
        return
    entry = peek.entry if peek.key else await _get(cache_key(call))
    if not isinstance(entry, StoredAnswer):
        outcome.cache_status = "MISS"
        return
    outcome.status, outcome.body = entry.status, entry.body
    # RFC 9111 §5.1: an answer from a cache says how long ago its upstream gave it.
    age = max(int(clock.time() - entry.stored_at), 0)
    outcome.headers = {**dict(entry.headers), "Age": str(age)}
    outcome.cache_status = "HIT"


def store(call: AdmittedCall) -> None:
    """Keep the upstream's answer once it has streamed through, when it may be kept."""
    outcome = call.outcome
    if outcome.cache_status != "MISS":
        return
    upstream = _cache_control(_response_header(call, "Cache-Control"))
    ttl = _ttl(call, upstream)
    if ttl > 0 and _storable(call, upstream):
        outcome.body = _tee(call, as_chunks(outcome.body), ttl)


def peek_key(call: AdmittedCall) -> str:
    """The key `limit` reads in its round trip: the call's cache key, "" when not cacheable."""
    return cache_key(call) if cacheable_request(call) else ""


def cache_key(call: AdmittedCall) -> str:
    """API, method, path, query, accepted encodings and (unless the API is public) application.

    The encodings are in the key because the upstream may compress for one client and not for
    another: a gzip body must never reach a client that did not ask for it.
    """
    api, request = call.api, call.request
    audience = "public" if api.public_cache else f"app:{call.claims.application_id}"
    encodings = request.header("Accept-Encoding").replace(" ", "").lower()
    keyed = f"{request.method}\n{request.path}\n{request.query_string}\n{encodings}".encode()
    return f"gw:resp:{api.pk}:{audience}:{hashlib.sha256(keyed).hexdigest()}"


def cacheable_request(call: AdmittedCall) -> bool:
    """GET or HEAD on an API with a cache_ttl."""
    return call.api.cache_ttl > 0 and call.request.method in CACHEABLE_METHODS


async def _get(key: str) -> StoredAnswer | None:
    try:
        return await shared.get(key)
    except SHARED_CACHE_ERRORS:
        return None


def _storable(call: AdmittedCall, upstream: dict[str, str]) -> bool:
    vary = _response_header(call, "Vary")
    varies = {name.strip().lower() for name in vary.split(",") if name.strip()}
    return (
        call.outcome.status == 200
        and "no-store" not in _cache_control(call.request.header("Cache-Control"))
        and not call.outcome.set_cookies
        and not set(upstream).intersection(UNSTORABLE_DIRECTIVES)
        and varies <= KEYED_REQUEST_HEADERS
    )


def _response_header(call: AdmittedCall, name: str) -> str:
    wanted = name.lower()
    return next((v for k, v in call.outcome.headers.items() if k.lower() == wanted), "")


def _cache_control(value: str) -> dict[str, str]:
    """Cache-Control directives (RFC 9111 §5.2), by lower-case name, with their values."""
    pairs = (part.strip().partition("=") for part in value.split(",") if part.strip())
    return {name.lower(): argument.strip('"') for name, _, argument in pairs}


def _ttl(call: AdmittedCall, upstream: dict[str, str]) -> int:
    """The API's cache_ttl, shortened to the upstream's s-maxage or max-age when it says less."""
    freshness = upstream.get("s-maxage", upstream.get("max-age", ""))
    if freshness.isdigit():
        return min(call.api.cache_ttl, int(freshness))
    return call.api.cache_ttl


async def _tee(call: AdmittedCall, chunks: AsyncIterator[bytes], ttl: int) -> AsyncIterator[bytes]:
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
        await _put(call, b"".join(kept), ttl)


async def _put(call: AdmittedCall, body: bytes, ttl: int) -> None:
    outcome = call.outcome
    entry = StoredAnswer(outcome.status, tuple(outcome.headers.items()), body, clock.time())
    try:
        await shared.set(cache_key(call), entry, ttl)
    except SHARED_CACHE_ERRORS:
        return
