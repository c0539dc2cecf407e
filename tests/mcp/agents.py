"""The official MCP SDK as the agent under test: one call runs one session to completion."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client

MODES = ("legacy", "2026-07-28", "auto")


def _http(token: str | None) -> httpx2.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.AsyncClient(headers=headers, timeout=30)


def with_client(url: str, token: str | None, mode: str, work: Callable[[Client], Awaitable[Any]]):
    """Run `work` with an mcp.Client connected in `mode`, carrying the bearer token."""

    async def session() -> Any:
        transport = streamable_http_client(url, http_client=_http(token))
        async with Client(transport, mode=mode, cache=None) as client:
            return await work(client)

    return _run(session)


def with_session(url: str, token: str, work: Callable[[ClientSession], Awaitable[Any]]):
    """Run `work` on a handshake ClientSession (initialize, then requests)."""

    async def session() -> Any:
        transport = streamable_http_client(url, http_client=_http(token))
        async with transport as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            return await work(client)

    return _run(session)


def _run(session: Callable[[], Awaitable[Any]]) -> Any:
    # A thread of its own: the browser tests' sync Playwright keeps an event loop running in
    # the main thread for the whole session, and asyncio.run refuses to nest in it.
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, session()).result()
