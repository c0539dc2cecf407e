"""The audit of MCP calls: every tools/call, prompts/get and resources/read, who and how it went.

Like usage events, an entry is queued in Redis after the answer (one round trip, no database on
the data plane) and moved into the database by a Celery task; on the embedded default it is
written directly. Arguments are kept only as a SHA-256 of their canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.db import DatabaseError

from apis.models import Api, ToolCallAudit
from apis.usage.stream import usage_redis
from core import shared
from core.clock import clock
from core.threads import in_database_thread
from keys.models import Application

logger = logging.getLogger(__name__)

QUEUE = "portcullis:mcp-audit"
BATCH = 500
MAX_BATCHES = 20
DETAIL_LIMIT = 300


@dataclass(frozen=True)
class AuditEntry:
    """One audited call, as queued."""

    event_id: str
    at: str
    application_id: int
    api_slug: str
    method: str
    target: str
    arguments_sha256: str
    outcome: str
    detail: str
    latency_ms: int


def arguments_digest(arguments: Any) -> str:
    """SHA-256 of the arguments' canonical JSON: equal arguments, equal digest."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def audited(
    *,
    application_id: int,
    api_slug: str,
    method: str,
    target: str,
    arguments: Any,
    run: Callable[[], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """`run()`'s result, with the call audited however it ended (a refusal re-raised)."""
    started = time.perf_counter()
    entry = {
        "application_id": application_id,
        "api_slug": api_slug,
        "method": method,
        "target": target[:300],
        "arguments_sha256": arguments_digest(arguments),
    }
    try:
        result = await run()
    except Exception as exc:
        await _record(entry, started, ToolCallAudit.Outcome.REFUSED, str(exc))
        raise
    outcome, detail = _outcome(result)
    await _record(entry, started, outcome, detail)
    return result


def _outcome(result: dict[str, Any]) -> tuple[str, str]:
    if not result.get("isError"):
        return ToolCallAudit.Outcome.OK, ""
    text = next((c.get("text", "") for c in result.get("content") or [] if "text" in c), "")
    return ToolCallAudit.Outcome.ERROR, text


async def _record(entry: dict[str, Any], started: float, outcome: str, detail: str) -> None:
    audit = AuditEntry(
        event_id=uuid.uuid4().hex,
        at=clock.utcnow().isoformat(),
        outcome=outcome,
        detail=detail[:DETAIL_LIMIT],
        latency_ms=int((time.perf_counter() - started) * 1000),
        **entry,
    )
    if settings.REDIS_URL:
        try:
            await shared.client_at(settings.REDIS_URL).rpush(QUEUE, json.dumps(asdict(audit)))
            return
        except redis.RedisError:
            logger.warning("audit queue unreachable; entry %s written directly", audit.event_id)
    try:
        await in_database_thread(lambda: audit_store([audit]))
    except DatabaseError:
        logger.error("audit entry %s lost: no Redis, no database", audit.event_id)


def audit_ingest() -> int:
    """Move queued entries into the database, a bounded number of batches; how many moved.

    A batch is removed from the queue only once stored, and stored by its unique event id, so
    a worker that dies between the two makes the next run store nothing twice.
    """
    if not settings.REDIS_URL:
        return 0
    queue = usage_redis(settings.REDIS_URL)
    moved = 0
    for _ in range(MAX_BATCHES):
        raw = queue.lrange(QUEUE, 0, BATCH - 1)
        if not raw:
            break
        moved += audit_store([AuditEntry(**json.loads(item)) for item in raw])
        queue.ltrim(QUEUE, len(raw), -1)
    return moved


def audit_store(entries: list[AuditEntry]) -> int:
    """Insert the entries not stored yet; how many were given."""
    creators = dict(
        Application.objects.filter(pk__in={e.application_id for e in entries}).values_list(
            "pk", "created_by_id"
        )
    )
    apis = _api_ids({entry.api_slug for entry in entries})
    ToolCallAudit.objects.bulk_create(
        [_row(entry, creators, apis) for entry in entries], ignore_conflicts=True
    )
    return len(entries)


def _api_ids(slugs: set[str]) -> dict[str, int]:
    return dict(Api.objects.filter(slug__in=slugs).values_list("slug", "pk"))


def _row(entry: AuditEntry, creators: dict[int, int], apis: dict[str, int]) -> ToolCallAudit:
    return ToolCallAudit(
        event_id=entry.event_id,
        at=datetime.fromisoformat(entry.at),
        application_id=entry.application_id if entry.application_id in creators else None,
        developer_id=creators.get(entry.application_id),
        api_id=apis.get(entry.api_slug),
        method=entry.method,
        target=entry.target,
        arguments_sha256=entry.arguments_sha256,
        outcome=entry.outcome,
        detail=entry.detail,
        latency_ms=max(0, entry.latency_ms),
    )
