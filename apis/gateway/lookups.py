"""Two-level cache of catalog lookups: process memory in front of the shared cache.

Every entry is filed under the catalog version, a token in the shared cache that any save of an
API, plan or subscription replaces. A process re-reads the token at most once per
LOOKUP_REFRESH seconds, so a change is seen everywhere within that time while a warm process
answers lookups without touching the database or the network.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.core.cache import cache

from apis.conf import gateway_settings
from apis.gateway.errors import SHARED_CACHE_ERRORS

VERSION_KEY = "gw:catalog-version"
SHARED_TTL = 300
LOCAL_MAX_ENTRIES = 10_000
_MISSING = object()


class _Local(threading.local):
    version: str = ""
    checked: float = float("-inf")
    entries: dict[str, Any]

    def __init__(self) -> None:
        self.entries = {}


_local = _Local()


def catalog_version() -> str:
    """The current catalog version, re-read from the shared cache at most once per refresh."""
    now = time.monotonic()
    if now - _local.checked < gateway_settings.LOOKUP_REFRESH:
        return _local.version
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(VERSION_KEY)
    if version != _local.version:
        _local.entries = {}
        _local.version = version
    _local.checked = now
    return version


def cached_lookup(name: str, loader: Callable[[], Any]) -> Any:
    """`loader()`'s result for `name` under the current catalog version (None included)."""
    try:
        return _two_level(name, loader)
    except SHARED_CACHE_ERRORS:
        if not gateway_settings.FAIL_OPEN:
            raise
        return loader()


def _two_level(name: str, loader: Callable[[], Any]) -> Any:
    version = catalog_version()
    value = _local.entries.get(name, _MISSING)
    if value is not _MISSING:
        return value
    shared_key = f"gw:{version}:{name}"
    value = cache.get(shared_key, _MISSING)
    if value is _MISSING:
        value = loader()
        cache.set(shared_key, value, SHARED_TTL)
    if len(_local.entries) >= LOCAL_MAX_ENTRIES:
        _local.entries = {}
    _local.entries[name] = value
    return value


def bump_catalog_version() -> None:
    """Invalidate every cached lookup, in every process within LOOKUP_REFRESH seconds."""
    cache.set(VERSION_KEY, uuid.uuid4().hex, None)
    _local.checked = float("-inf")
