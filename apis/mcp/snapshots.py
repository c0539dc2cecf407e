"""Snapshots of upstream MCP servers: their tools, prompts and resources, taken on a schedule.

Taken with the API's own credential (when the API has one), so staff and the portal can see
what a server offers before anyone subscribes; a failed refresh keeps the last good lists.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from django.db import transaction
from django.utils import timezone

from apis.gateway.loop_pools import close_loop_pools
from apis.mcp import upstream as client
from apis.mcp.forward import credential_headers
from apis.models import Api, McpSnapshot
from lifecycle.states import State

# Pages of one list a snapshot reads at most, and entries it keeps of each list.
MAX_PAGES = 20
MAX_ENTRIES = 1000
LISTS = {"tools": "tools/list", "prompts": "prompts/list", "resources": "resources/list"}
# What an entry of each list must name to be offered, granted or called at all.
IDENTITY = {"tools": "name", "prompts": "name", "resources": "uri"}


def snapshot_refresh(*, api: Api) -> McpSnapshot:
    """Ask the API's MCP server for its lists now and store them (or why it could not)."""
    try:
        version, lists = asyncio.run(_taken(api))
    except (client.UpstreamFailure, client.UpstreamRpcError, TimeoutError) as exc:
        return _store_failure(api, _reason(exc))
    return _store(api, version, lists)


def snapshots_refresh() -> int:
    """Refresh every MCP API not retired; how many were refreshed without error."""
    apis = Api.objects.filter(kind=Api.Kind.MCP).exclude(state=State.RETIRED).order_by("pk")
    return sum(not snapshot_refresh(api=api).error for api in apis)


async def _taken(api: Api) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    try:
        async with asyncio.timeout(api.total_timeout or api.timeout * 4):
            return await _lists_of(api)
    finally:
        await close_loop_pools()  # this loop ends here; its pools must not outlive it


async def _lists_of(api: Api) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    upstream = client.Upstream(
        api.upstream_url,
        credential_headers(api, api.upstream_secret),
        httpx.Timeout(api.timeout, connect=api.connect_timeout),
    )
    session = await client.open_session(upstream, api.mcp_revision)
    try:
        lists = {
            key: await _all_pages(upstream, session, method, key)
            for key, method in LISTS.items()
            if key in session.capabilities
        }
    finally:
        await client.close_session(upstream, session)
    return session.version, lists


async def _all_pages(
    upstream: client.Upstream, session: client.Session, method: str, key: str
) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    params: dict[str, Any] = {}
    for _ in range(MAX_PAGES):
        result = await client.request(upstream, session, method, params)
        entries += [
            entry
            for entry in result.get(key) or []
            if isinstance(entry, dict) and isinstance(entry.get(IDENTITY[key]), str)
        ]
        cursor = result.get("nextCursor")
        if not cursor or len(entries) >= MAX_ENTRIES:
            break
        params = {"cursor": cursor}
    return entries[:MAX_ENTRIES]


def _reason(exc: Exception) -> str:
    if isinstance(exc, client.UpstreamFailure):
        return f"The MCP server {exc.detail}."
    if isinstance(exc, client.UpstreamRpcError):
        return f"The MCP server answered: {exc.message}"
    return "The MCP server did not answer in time."


@transaction.atomic
def _store(api: Api, version: str, lists: dict[str, list[dict[str, Any]]]) -> McpSnapshot:
    snapshot, _ = McpSnapshot.objects.select_for_update().get_or_create(api=api)
    snapshot.protocol_version = version
    snapshot.tools = lists.get("tools", [])
    snapshot.prompts = lists.get("prompts", [])
    snapshot.resources = lists.get("resources", [])
    snapshot.refreshed_at = timezone.now()
    snapshot.error = ""
    snapshot.save()
    return snapshot


@transaction.atomic
def _store_failure(api: Api, reason: str) -> McpSnapshot:
    snapshot, _ = McpSnapshot.objects.select_for_update().get_or_create(api=api)
    snapshot.error = reason
    snapshot.save(update_fields=["error"])
    return snapshot
