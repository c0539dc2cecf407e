"""Deployment checks of the shared Redis: its eviction policy and its persistence."""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

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
    """The memory and persistence sections of a Redis's INFO."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return {**client.info("memory"), **client.info("persistence")}
    finally:
        client.close()
