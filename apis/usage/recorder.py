"""Recording one usage event without making the caller wait on the database."""

from __future__ import annotations

import logging
import uuid

import redis

from apis.usage.conf import usage_settings
from apis.usage.records import UsageRecord
from apis.usage.services import usage_event_create
from apis.usage.stream import usage_stream

__all__ = ["UsageRecord", "record_usage"]

logger = logging.getLogger(__name__)


def record_usage(event: UsageRecord) -> None:
    """Append the event to the usage stream (one round trip), or insert it on the embedded default.

    When Redis does not answer, the event is written to the database directly rather than lost.
    """
    stream = usage_stream()
    if stream is not None:
        try:
            stream.client.xadd(
                stream.name,
                event.to_fields(),
                maxlen=usage_settings.STREAM_MAXLEN,
                approximate=True,
            )
            return
        except redis.RedisError:
            logger.warning(
                "usage stream unreachable; request %s written directly", event.request_id
            )
    usage_event_create(record=event, source_id=f"direct-{uuid.uuid4().hex}")
