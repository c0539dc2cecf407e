"""Two-level cache of catalog lookups: process memory in front of the shared cache.

The catalog's selectors read through it and its services invalidate it; the gateway, AI and MCP
read the catalog through it on the hot path.

Every entry is filed under the catalog version, a token in the shared cache that any save of an
API, plan or subscription replaces. A process re-reads the token at most once per
LOOKUP_REFRESH seconds, so a change is seen everywhere within that time while a warm process
answers lookups without touching the database or the network. Lookups run on the event loop;
only a miss in both levels goes to the database, once per name however many calls wait for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.core.cache import cache

from apis.conf import gateway_settings
from core import shared
from core.clock import clock
from core.single_flight import single_flight
from core.threads import in_database_thread

VERSION_KEY = "gw:catalog-version"
SHARED_TTL = 300
LOCAL_MAX_ENTRIES = 10_000
_MISSING = object()


class _Local:
    """This process's copy: the version it last read, when, and the entries filed under it."""

    version: str = ""
    checked: float = float("-inf")
    entries: dict[str, Any]

    def __init__(self) -> None:
        self.entries = {}


_local = _Local()


async def catalog_version() -> str:
    """The current catalog version, re-read from the shared cache at most once per refresh; the
    calls that find it due at the same moment (a burst) share one read."""
    if clock.monotonic() - _local.checked < gateway_settings.LOOKUP_REFRESH:
        return _local.version
    return await single_flight(VERSION_KEY, _read_version)


async def _read_version() -> str:
    now = clock.monotonic()
    version = await shared.get(VERSION_KEY)
    if version is None:
        await shared.add(VERSION_KEY, uuid.uuid4().hex, None)
        version = await shared.get(VERSION_KEY)
    if version != _local.version:
        _local.entries = {}
        _local.version = version
    _local.checked = now
    return version


async def cached_lookup(name: str, loader: Callable[[], Any]) -> Any:
    """The sync ORM `loader()`'s result for `name` under the current catalog version."""
    try:
        return await _two_level(name, loader)
    except shared.SHARED_CACHE_ERRORS:
        if not gateway_settings.FAIL_OPEN:
            raise
        return await in_database_thread(loader)


async def _two_level(name: str, loader: Callable[[], Any]) -> Any:
    version = await catalog_version()
    value = _local.entries.get(name, _MISSING)
    if value is not _MISSING:
        return value
    value = await single_flight(
        (VERSION_KEY, version, name), lambda: _from_shared_or_database(version, name, loader)
    )
    if len(_local.entries) >= LOCAL_MAX_ENTRIES:
        _local.entries = {}
    _local.entries[name] = value
    return value


async def _from_shared_or_database(version: str, name: str, loader: Callable[[], Any]) -> Any:
    shared_key = f"gw:{version}:{name}"
    value = await shared.get(shared_key, _MISSING)
    if value is _MISSING:
        value = await in_database_thread(loader)
        await shared.set(shared_key, value, SHARED_TTL)
    return value


def bump_catalog_version() -> None:
    """Invalidate every cached lookup, in every process within LOOKUP_REFRESH seconds."""
    cache.set(VERSION_KEY, uuid.uuid4().hex, None)
    _local.checked = float("-inf")
