"""Upstream sessions per caller: opened lazily, renewed when the upstream forgot them, closed.

A caller's handshake session gets one upstream session per MCP API it uses; a 2026-07-28 caller
has no session, so its application's calls share one per API. They live in the shared cache, so
any gateway process continues any of them.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from apis.mcp import upstream as client
from apis.mcp.conf import mcp_settings
from core import shared


def _key(owner: str, api_slug: str) -> str:
    return f"mcp:upstream:{owner}:{api_slug}"


def _index_key(owner: str) -> str:
    return f"mcp:upstream-apis:{owner}"


async def relay(
    upstream: client.Upstream,
    *,
    api_slug: str,
    revision: str,
    owner: str,
    method: str,
    params: dict[str, Any],
) -> dict[str, Any]:
    """The upstream's result for one request, in the owner's session toward that API.

    An upstream that answers 404 for the session (expired, restarted) gets one new session and
    the same request again; the caller never sees the difference.
    """
    session = await _stored(owner, api_slug)
    if session is None:
        session = await _opened(upstream, api_slug=api_slug, revision=revision, owner=owner)
    try:
        return await client.request(upstream, session, method, params)
    except client.SessionExpired:
        session = await _opened(upstream, api_slug=api_slug, revision=revision, owner=owner)
        return await client.request(upstream, session, method, params)


async def _stored(owner: str, api_slug: str) -> client.Session | None:
    stored = await shared.get(_key(owner, api_slug))
    if stored is None:
        return None
    await shared.touch(_key(owner, api_slug), mcp_settings.SESSION_TTL)
    return client.Session(**stored)


async def _opened(
    upstream: client.Upstream, *, api_slug: str, revision: str, owner: str
) -> client.Session:
    session = await client.open_session(upstream, revision)
    await shared.set(_key(owner, api_slug), asdict(session), mcp_settings.SESSION_TTL)
    apis = set(await shared.get(_index_key(owner)) or ())
    await shared.set(_index_key(owner), sorted(apis | {api_slug}), mcp_settings.SESSION_TTL)
    return session


async def sessions_of(owner: str) -> dict[str, client.Session]:
    """The owner's upstream sessions by API slug, forgotten here as they are returned."""
    found: dict[str, client.Session] = {}
    for api_slug in await shared.get(_index_key(owner)) or ():
        session = await _stored(owner, api_slug)
        await shared.delete(_key(owner, api_slug))
        if session is not None:
            found[api_slug] = session
    await shared.delete(_index_key(owner))
    return found
