"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

from core.problems import problem_response


def healthz(request: HttpRequest) -> JsonResponse:
    """200 while the process serves."""
    return JsonResponse({"status": "ok"})


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache() -> None:
    cache.set("readyz", "1", 5)
    if cache.get("readyz") != "1":
        raise RuntimeError("the cache did not return what was stored")


def _broker() -> None:
    from portal.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=1)


def checks() -> dict:
    """Named dependency checks; the broker only when one is configured."""
    named = {"database": _database, "cache": _cache}
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        named["broker"] = _broker
    return named


def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database, cache and broker answer, else 503 naming what failed."""
    failed = {}
    for name, check in checks().items():
        try:
            check()
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"[:200]
    if failed:
        return problem_response(
            503, "Not ready: " + ", ".join(sorted(failed)) + " failed.", failed=failed
        )
    return JsonResponse({"status": "ready", "checks": sorted(checks())})
