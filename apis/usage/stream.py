"""The Redis stream of usage events, read through a consumer group so no entry is lost."""

from __future__ import annotations

from functools import cache
from typing import Any

import redis
from django.conf import settings
from redis.cluster import RedisCluster

from apis.usage.conf import usage_settings
from core import redis_clients

StreamEntry = tuple[str, dict[str, str]]


class UsageStream:
    """Entries are handed to one consumer at a time and stay pending until acknowledged.

    A consumer that dies leaves its entries pending; after `claim_idle_ms` another one takes
    them over (XAUTOCLAIM), so a crash delays events but never drops them.
    """

    def __init__(self, client: redis.Redis | RedisCluster, *, name: str, group: str) -> None:
        self.client = client
        self.name = name
        self.group = group

    def ensure_group(self) -> None:
        """Create the consumer group (and the stream) unless they exist."""
        try:
            self.client.xgroup_create(self.name, self.group, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def take(self, *, consumer: str, count: int, claim_idle_ms: int) -> list[StreamEntry]:
        """The next entries for `consumer`: a dead consumer's first, then its own, then new ones."""
        claimed = self.client.xautoclaim(
            self.name, self.group, consumer, min_idle_time=claim_idle_ms, count=count
        )[1]
        if claimed:
            return claimed
        # Entries this consumer read but did not acknowledge (its last batch failed) come next.
        own = self._read(consumer, "0", count)
        return own or self._read(consumer, ">", count)

    def _read(self, consumer: str, start: str, count: int) -> list[StreamEntry]:
        # One stream asked for: [[name, entries]] (decoded: the client decodes responses).
        answer: Any = self.client.xreadgroup(self.group, consumer, {self.name: start}, count=count)
        return answer[0][1] if answer else []

    def acknowledge(self, entry_ids: list[str]) -> None:
        """Mark entries as stored and drop them from the stream, in one round trip."""
        with self.client.pipeline(transaction=False) as pipe:
            pipe.xack(self.name, self.group, *entry_ids)
            pipe.xdel(self.name, *entry_ids)
            pipe.execute()

    def length(self) -> int:
        """Entries still in the stream (not yet stored)."""
        return self.client.xlen(self.name)


@cache
def usage_redis(url: str) -> redis.Redis | RedisCluster:
    """A Redis (or cluster) client for usage events on its own pools, one per process and URL."""
    return redis_clients.sync_client(
        url, socket_connect_timeout=0.5, socket_timeout=0.5, decode_responses=True
    )


def usage_stream() -> UsageStream | None:
    """The usage stream, or None on the embedded default (no Redis)."""
    if not settings.REDIS_URL:
        return None
    client = usage_redis(settings.REDIS_URL)
    return UsageStream(client, name=usage_settings.STREAM, group=usage_settings.GROUP)
