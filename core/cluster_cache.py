"""Django's Redis cache on a Redis Cluster: `CACHES["default"]["LOCATION"] = "redis+cluster://…"`.

Django's own backend speaks to one Redis, or to a primary with replicas it picks itself; this one
hands every command to redis-py's cluster client, which routes each key to the node that owns its
slot. Commands over several keys are split by slot, since a cluster refuses them otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from core import redis_clients

if TYPE_CHECKING:
    from django.core.cache.backends.redis import _RedisCacheClientSerializer

Key = str | bytes | memoryview


class RedisClusterCacheClient(RedisCacheClient):
    """One cluster client per process, shared by every thread (it keeps a pool per node)."""

    # Set by RedisCacheClient.__init__ from the cache's OPTIONS; the stubs leave it out.
    _serializer: _RedisCacheClientSerializer

    def __init__(self, servers: list[str], **options: Any) -> None:
        options.pop("pool_class", None)
        super().__init__(servers, **{k: options.pop(k) for k in ("serializer",) if k in options})
        self._cluster = redis_clients.sync_cluster_client(servers[0], **options)

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        return self._cluster

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Any]:
        keys = list(keys)
        values = self._cluster.mget_nonatomic(keys)
        loads = self._serializer.loads
        return {k: loads(v) for k, v in zip(keys, values, strict=True) if v is not None}

    def set_many(self, data: Mapping[Key, Any], timeout: int | timedelta | None) -> None:
        pipeline = self._cluster.pipeline()
        for key, value in data.items():
            pipeline.set(key, self._serializer.dumps(value), ex=timeout)
        pipeline.execute()


class RedisClusterCache(RedisCache):
    """The cache backend: LOCATION is the cluster URL, commas and all."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._servers = [server]
        self._class = RedisClusterCacheClient
