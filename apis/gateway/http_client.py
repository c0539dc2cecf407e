"""One pooled async HTTP client per event loop for the upstreams (httpx over aiohttp's pool)."""

from __future__ import annotations

import asyncio
import weakref

import httpx

from apis.conf import gateway_settings
from apis.gateway.aiohttp_transport import AiohttpTransport

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


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
