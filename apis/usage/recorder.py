"""Recording one usage event from the data plane without making the caller wait on the database."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import DatabaseError

from apis.usage.conf import usage_settings
from apis.usage.records import UsageRecord
from apis.usage.services import usage_event_create
from core import shared
from core.threads import in_database_thread

__all__ = ["UsageRecord", "record_usage"]

logger = logging.getLogger(__name__)


async def record_usage(event: UsageRecord) -> None:
    """Append the event to the usage stream (one round trip), or insert it on the embedded default.

    When Redis does not answer, the event is written to the database directly rather than lost.
    """
    if settings.REDIS_URL:
        try:
            await shared.client_at(settings.REDIS_URL).xadd(
                usage_settings.STREAM,
                event.to_fields(),
                maxlen=usage_settings.STREAM_MAXLEN,
                approximate=True,
            )
            return
        except redis.RedisError:
            logger.warning(
                "usage stream unreachable; request %s written directly", event.request_id
            )
    try:
        await in_database_thread(lambda: usage_event_create(record=event, source_id=event.event_id))
    except DatabaseError:
        # Redis and the database both down: the answer has gone out; say what was not counted.
        logger.error("usage event of request %s lost: no Redis, no database", event.request_id)
