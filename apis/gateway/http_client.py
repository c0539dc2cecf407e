"""One pooled async HTTP client per event loop for the upstreams (httpx over aiohttp's pool)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator

import httpx

from apis.conf import gateway_settings
from apis.gateway.aiohttp_transport import AiohttpTransport

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


class AnswerTooLarge(Exception):
    """An upstream's answer ran past the bytes the gateway would hold of it."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"answered more than {limit} bytes")
        self.limit = limit


class UpstreamClient(httpx.AsyncClient):
    """httpx's client for building requests; each one goes to the pool exactly as built.

    httpx's own `send` keeps the cookies an answer sets and adds them to the next request to
    that host, whoever makes it: through a gateway, one caller's upstream session would ride
    on another caller's call. It also runs auth, redirect and event-hook machinery a proxy
    has no use for, on every call. Here the answer goes back as the upstream gave it.
    """

    def __init__(self, pool: AiohttpTransport) -> None:
        super().__init__(transport=pool, follow_redirects=False, trust_env=False)
        self.pool = pool
        # httpx adds Accept-Encoding, User-Agent and friends of its own; a proxy sends the
        # client's.
        self.headers.clear()

    async def send(
        self, request: httpx.Request, *, stream: bool = False, **_redirects_and_auth: object
    ) -> httpx.Response:
        """The upstream's answer, its body read unless `stream`; redirects are never followed
        and no auth is added (httpx's `request()` passes its options for them)."""
        response = await self.pool.handle_async_request(request)
        if not stream:
            try:
                await response.aread()
            finally:
                await response.aclose()
        return response


def upstream_client() -> httpx.AsyncClient:
    """The running event loop's pooled client (a connection pool must not cross loops)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _clients[loop] = _new_client()
    return client


async def close_upstream_client() -> None:
    """Close the running loop's client and its connections (loop_pools, as the loop ends)."""
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


def _new_client() -> httpx.AsyncClient:
    pool = AiohttpTransport(
        max_connections=gateway_settings.MAX_CONNECTIONS,
        keepalive_seconds=gateway_settings.KEEPALIVE_SECONDS,
    )
    return UpstreamClient(pool)


def answer_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The answer's bytes as they arrive, decompressed only when the upstream compressed them
    (the gateway asks for no encoding: httpx's decoding layers would be a generator step per
    read for nothing)."""
    if "content-encoding" in response.headers:
        return response.aiter_bytes()
    return response.aiter_raw()


async def bounded_chunks(response: httpx.Response, limit: int) -> AsyncIterator[bytes]:
    """The answer's bytes as they arrive (decompressed: what the gateway holds), AnswerTooLarge
    once they pass `limit`; an upstream that never ends its answer holds no more than that."""
    size = 0
    async for chunk in answer_chunks(response):
        size += len(chunk)
        if size > limit:
            raise AnswerTooLarge(limit)
        yield chunk


async def read_within(response: httpx.Response, limit: int) -> bytes:
    """The whole answer (decompressed), or AnswerTooLarge once it passes `limit` bytes."""
    return b"".join([chunk async for chunk in bounded_chunks(response, limit)])
