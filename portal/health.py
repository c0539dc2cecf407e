"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from kombu import Connection
from redis.exceptions import RedisError

from apis.selectors import runs_catalog
from core.addresses import is_direct_loopback
from core.checks import redis_info
from core.problems import problem_response
from core.redis_policy import durability_problem, eviction_problem

# A probe must answer before the orchestrator's own timeout, even when a dependency hangs.
BROKER_TIMEOUT_SECONDS = 1


async def healthz(request: HttpRequest) -> JsonResponse:
    """200 while the process serves (answered on the event loop, whatever else is busy)."""
    return JsonResponse({"status": "ok"})


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache() -> None:
    cache.set("readyz", "1", 5)
    if cache.get("readyz") != "1":
        raise RuntimeError("the cache did not return what was stored")


def _broker() -> None:
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT_SECONDS) as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)


def _redis_policy() -> None:
    problem = eviction_problem(redis_info(settings.REDIS_URL))
    if problem:
        raise RuntimeError(problem)


def checks() -> dict[str, Callable[[], None]]:
    """Named dependency checks; the broker only when one is configured (tasks not eager)."""
    named = {"database": _database, "cache": _cache}
    if settings.REDIS_URL:
        named["redis_policy"] = _redis_policy
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        named["broker"] = _broker
    return named


def warnings_of_redis() -> list[str]:
    """What is not failing but would lose data in a crash (usage events without persistence)."""
    if not settings.REDIS_URL:
        return []
    try:
        problem = durability_problem(redis_info(settings.REDIS_URL))
    except RedisError:
        return []
    return [problem] if problem else []


def run_check(check: Callable[[], None]) -> str:
    """ "ok", or the failure of the check in a line."""
    try:
        check()
    except Exception as exc:  # any failure of a dependency means "not ready", never a 500
        return f"{type(exc).__name__}: {exc}"[:200]
    return "ok"


def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database, cache and broker answer, else 503.

    What failed, and how (errors name internal hosts and ports), is told to staff and to
    callers on this host only; anyone else, such as a load balancer, gets the bare status.
    """
    results = {name: run_check(check) for name, check in checks().items()}
    failed = sorted(name for name, result in results.items() if result != "ok")
    detailed = _may_see_details(request)
    if failed:
        if not detailed:
            return problem_response(503, "Not ready.", "Not ready")
        return problem_response(
            503, f"Not ready: {', '.join(failed)} failed.", "Not ready", checks=results
        )
    details = {"checks": results, "warnings": warnings_of_redis()} if detailed else {}
    return JsonResponse({"status": "ready", **details})


def _may_see_details(request: HttpRequest) -> bool:
    if is_direct_loopback(request):
        return True
    # The session only: a probe must answer even when the database behind it does not.
    try:
        return runs_catalog(request.user)
    except DatabaseError:
        return False
