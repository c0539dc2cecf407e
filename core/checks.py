"""Deployment checks of the shared Redis: its eviction policy and its persistence."""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from core import redis_clients
from core.redis_policy import durability_problem, eviction_problem


@register(Tags.caches, deploy=True)
def redis_policy_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`check --deploy`: an evicting Redis is an error, one without persistence a warning."""
    if not settings.REDIS_URL:
        return []
    try:
        info = redis_info(settings.REDIS_URL)
    except redis.RedisError as exc:
        return [
            Warning(f"Redis at REDIS_URL could not be asked its settings: {exc}", id="core.W002")
        ]
    messages: list[CheckMessage] = []
    if problem := eviction_problem(info):
        messages.append(Error(problem, id="core.E001"))
    if problem := durability_problem(info):
        messages.append(Warning(problem, id="core.W001"))
    return messages


def redis_info(url: str) -> dict[str, Any]:
    """The memory and persistence sections of a Redis's INFO; of a cluster, those of the
    primary that would fail the checks first (a cluster is as safe as its weakest node)."""
    client = redis_clients.sync_client(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return weakest(redis_clients.infos(client))
    finally:
        client.close()


def weakest(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """The INFO that may evict, else one without an append-only file, else the first."""
    for problem in (eviction_problem, durability_problem):
        found = next((info for info in infos if problem(info)), None)
        if found is not None:
            return found
    return infos[0]
