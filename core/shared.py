"""The shared cache from async code: the same keys and values as Django's default cache.

The control plane writes through Django's cache API (a revocation, a catalog version); the data
plane reads and writes the same entries here without leaving the event loop. On Redis that is
one `redis.asyncio` client per event loop, on the pool Django's cache settings describe; on the
embedded default (local memory, one process) it is Django's cache itself, which is memory and
never waits on I/O.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, cast

import redis.asyncio as aioredis
from django.conf import settings
from django.core.cache import BaseCache, cache, caches
from django.core.cache.backends.redis import RedisCache, RedisSerializer
from django.core.signals import setting_changed
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError as RedisOutOfMemory
from redis.exceptions import TimeoutError as RedisTimeoutError

from core import redis_clients

# What the shared cache raises when Redis does not answer, or is full and refuses writes
# (maxmemory with noeviction, as the README asks); the gateway turns it into 503.
SHARED_CACHE_ERRORS: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    RedisOutOfMemory,
)

_serializer = RedisSerializer()
# A Redis that is down refuses at once; one that does not answer is given this long. On the
# event loop a reply is read only when the loop comes round to it, so a burst of calls delays
# every reply: half a second (the sync clients' bound) would fail calls Redis had answered.
CONNECT_TIMEOUT = 1.0
REPLY_TIMEOUT = 3.0
# Connections one event loop keeps. While all are busy a call waits its turn: with Redis up,
# only a burst larger than the process can serve at once makes it wait, so it waits long (a
# Redis that is down refuses at once and one that hangs fails each call after REPLY_TIMEOUT).
POOL_SIZE = 128
POOL_WAIT = 30.0
_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, redis_clients.AsyncClient]
] = weakref.WeakKeyDictionary()


class _SharedCache:
    """What every shared-cache call reads of the settings, resolved once per process: Django's
    cache handler gives each request's context a backend of its own, built from the settings on
    first use in that context, a cost every call would pay."""

    def __init__(self) -> None:
        # A backend of this module's own, for its key function only: it never connects.
        self.backend: BaseCache = caches.create_connection("default")
        self.on_redis = isinstance(self.backend, RedisCache)
        self.location: str = settings.CACHES["default"].get("LOCATION", "")
        self.on_cluster = self.on_redis and redis_clients.is_cluster(self.location)


_resolved: _SharedCache | None = None


def _shared_cache() -> _SharedCache:
    global _resolved
    if _resolved is None:
        _resolved = _SharedCache()
    return _resolved


def _forget_settings(*, setting: str, **kwargs: Any) -> None:
    """A test changed the cache settings: resolve them again on the next call."""
    global _resolved
    if setting == "CACHES":
        _resolved = None


setting_changed.connect(_forget_settings)


def on_redis() -> bool:
    """Whether the shared cache is Redis (else the embedded local-memory cache)."""
    return _shared_cache().on_redis


def client() -> redis_clients.AsyncClient:
    """The running event loop's client of the shared cache's Redis."""
    return client_at(_shared_cache().location)


def on_cluster() -> bool:
    """Whether the shared cache is a Redis Cluster (a script's keys must share one slot)."""
    return _shared_cache().on_cluster


def client_at(url: str) -> redis_clients.AsyncClient:
    """The running event loop's client of the Redis at `url` (a pool must not cross loops)."""
    loop = asyncio.get_running_loop()
    # Not setdefault: a weak reference made and dropped on every call, for a dict that exists.
    clients = _clients.get(loop)
    if clients is None:
        clients = _clients[loop] = {}
    found = clients.get(url)
    if found is None and redis_clients.is_cluster(url):
        found = clients[url] = redis_clients.async_client(
            url,
            max_connections=POOL_SIZE,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=REPLY_TIMEOUT,
        )
    if found is None:
        # A bounded pool that makes a burst of calls wait their turn for a connection, rather
        # than open one each at once (each an extra round trip, none of them needed).
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=POOL_WAIT,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=REPLY_TIMEOUT,
            # Naming the client library to Redis (CLIENT SETINFO) costs a round trip and a
            # package-metadata scan on every new connection: a millisecond each, in a burst.
            driver_info=None,
        )
        found = clients[url] = aioredis.Redis(connection_pool=pool)
    return found


async def close_clients() -> None:
    """Close the running loop's Redis clients (at the ASGI lifespan's shutdown)."""
    for found in _clients.pop(asyncio.get_running_loop(), {}).values():
        if isinstance(found, aioredis.Redis):
            await found.aclose(close_connection_pool=True)
        else:
            await found.aclose()


def raw_key(key: str) -> str:
    """The key as Django's cache stores it (prefix and version included).

    Not validated as memcached would want it: Redis takes any key, and the check walks every
    character of every key in Python.
    """
    return _shared_cache().backend.make_key(key)


def dumps(value: Any) -> bytes | int:
    """A value as Django's Redis cache stores it: integers as they are, the rest pickled."""
    return _serializer.dumps(value)


def loads(data: bytes | None) -> Any:
    """A stored value back (None when absent)."""
    return None if data is None else _serializer.loads(data)


async def get(key: str, default: Any = None) -> Any:
    """The value under `key`, or `default`."""
    if not on_redis():
        return cache.get(key, default)
    data = await client().get(raw_key(key))
    # redis-py types a reply as bytes or str; these clients never decode replies: bytes.
    return default if data is None else loads(cast(bytes, data))


async def set(key: str, value: Any, timeout: int | None) -> None:
    """Store `value` for `timeout` seconds (None: until replaced)."""
    if not on_redis():
        cache.set(key, value, timeout)
        return
    await client().set(raw_key(key), dumps(value), ex=timeout)


async def add(key: str, value: Any, timeout: int | None) -> bool:
    """Store `value` unless the key exists; whether it was stored."""
    if not on_redis():
        return cache.add(key, value, timeout)
    return bool(await client().set(raw_key(key), dumps(value), ex=timeout, nx=True))


async def delete(key: str) -> None:
    """Forget the key."""
    if not on_redis():
        cache.delete(key)
        return
    await client().delete(raw_key(key))


async def touch(key: str, timeout: int) -> bool:
    """Renew the key's lifetime; whether it exists."""
    if not on_redis():
        return cache.touch(key, timeout)
    return bool(await client().expire(raw_key(key), timeout))


def sync_client() -> Any:
    """The shared cache's own sync Redis client, for sync code that needs more than get/set."""
    # Django's RedisCache keeps its redis-py client behind `_cache` (private, so not in the
    # stubs); this is the one place the project reaches for it.
    return caches["default"]._cache.get_client(write=True)  # type: ignore[attr-defined]
