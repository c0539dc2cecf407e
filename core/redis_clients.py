"""Redis clients from a URL: one Redis (`redis://`), or a Redis Cluster (`redis+cluster://`).

A cluster URL names one or more of its nodes, `redis+cluster://[user:password@]host:port[,host:port…]`
(`rediss+cluster://` for TLS); the client learns the rest of the cluster from them and follows
its slots as they move (a failover, a resharding). A cluster has database 0 only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import ClusterNode, RedisCluster

CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}
AsyncClient = aioredis.Redis | AsyncRedisCluster


@dataclass(frozen=True)
class ClusterAddress:
    """The nodes a cluster URL names and how to sign in to them."""

    nodes: list[tuple[str, int]]
    username: str | None
    password: str | None
    tls: bool


def is_cluster(url: str) -> bool:
    """Whether the URL names a Redis Cluster."""
    return url.partition("://")[0].lower() in CLUSTER_SCHEMES


def cluster_address(url: str) -> ClusterAddress:
    """The parts of a `redis+cluster://` URL; ValueError when it names no node."""
    scheme, _, rest = url.partition("://")
    credentials, _, hosts = rest.rpartition("@")
    hosts = hosts.split("/", 1)[0]
    nodes = []
    for host in filter(None, hosts.split(",")):
        parsed = urlsplit(f"//{host}")
        nodes.append((parsed.hostname or "127.0.0.1", parsed.port or 6379))
    if not nodes:
        raise ValueError(f"{url!r} names no cluster node: write redis+cluster://host:port")
    signed_in = urlsplit(f"//{credentials}@host")
    return ClusterAddress(
        nodes=nodes,
        username=unquote(signed_in.username) if credentials and signed_in.username else None,
        password=unquote(signed_in.password) if credentials and signed_in.password else None,
        tls=CLUSTER_SCHEMES[scheme.lower()],
    )


def sync_client(url: str, **options: Any) -> redis.Redis | RedisCluster:
    """A sync client of the Redis or cluster at `url` (options as redis-py takes them)."""
    if not is_cluster(url):
        return redis.Redis.from_url(url, **options)
    return sync_cluster_client(url, **options)


def sync_cluster_client(url: str, **options: Any) -> RedisCluster:
    """A sync client of the cluster at `url` (options as redis-py takes them)."""
    address = cluster_address(url)
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in address.nodes],
        **_cluster_options(address, options),
    )


def async_client(url: str, **options: Any) -> aioredis.Redis | AsyncRedisCluster:
    """An asyncio client of the cluster at `url` (one Redis: see core.shared's pool)."""
    address = cluster_address(url)
    options.pop("timeout", None)  # the blocking pool's wait: a cluster client has none
    return AsyncRedisCluster(
        startup_nodes=[AsyncClusterNode(host, port) for host, port in address.nodes],
        # After a failover each MOVED answer moves its slot to the node it names. Relearning
        # the whole cluster instead (every 5th MOVED, by default) closes the connections
        # that calls running at that moment are using, and fails them.
        reinitialize_steps=0,
        **_cluster_options(address, options),
    )


def _cluster_options(address: ClusterAddress, options: dict[str, Any]) -> dict[str, Any]:
    signed_in = {"username": address.username, "password": address.password}
    return {**{k: v for k, v in signed_in.items() if v}, "ssl": address.tls, **options}


def infos(client: redis.Redis | RedisCluster) -> list[dict[str, Any]]:
    """The memory and persistence sections of INFO, from the Redis or each cluster primary."""
    if not isinstance(client, RedisCluster):
        return [{**client.info("memory"), **client.info("persistence")}]
    return [
        {
            **client.info("memory", target_nodes=node),
            **client.info("persistence", target_nodes=node),
        }
        for node in client.get_primaries()
    ]


async def ainfos(client: aioredis.Redis | AsyncRedisCluster) -> list[dict[str, Any]]:
    """`infos` from asyncio."""
    if not isinstance(client, AsyncRedisCluster):
        return [{**await client.info("memory"), **await client.info("persistence")}]
    await client.initialize()  # the cluster's nodes are learnt on first use
    found = []
    for node in client.get_primaries():
        memory = await client.info("memory", target_nodes=node)
        found.append({**memory, **await client.info("persistence", target_nodes=node)})
    return found
