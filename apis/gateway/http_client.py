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


def upstream_client() -> httpx.AsyncClient:
    """The running event loop's pooled client (a connection pool must not cross loops)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _clients[loop] = _new_client()
    return client


async def close_upstream_client() -> None:
    """Close the running loop's client and its connections (at the ASGI lifespan's shutdown)."""
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


def _new_client() -> httpx.AsyncClient:
    transport = AiohttpTransport(
        max_connections=gateway_settings.MAX_CONNECTIONS,
        keepalive_seconds=gateway_settings.KEEPALIVE_SECONDS,
    )
    client = httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False)
    # httpx adds Accept-Encoding, User-Agent and friends of its own; a proxy sends the client's.
    client.headers.clear()
    return client
