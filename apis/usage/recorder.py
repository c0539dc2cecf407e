"""Recording one usage event from the data plane without making the caller wait on the database."""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import cast

import redis
from django.conf import settings
from django.db import DatabaseError
from redis.typing import EncodableT, FieldT

from apis.usage.conf import usage_settings
from apis.usage.records import UsageRecord
from apis.usage.services import usage_event_create
from core import shared
from core.threads import in_database_thread

__all__ = ["UsageRecord", "record_usage"]

logger = logging.getLogger(__name__)


class _Batch:
    """Events to append together, each with the future its caller awaits."""

    def __init__(self) -> None:
        self.waiting: list[tuple[UsageRecord, asyncio.Future]] = []


# Per event loop, the batch the next append will send.
_batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batch] = weakref.WeakKeyDictionary()
# The appends under way: a task the loop alone refers to may be collected before it is done.
_sending: set[asyncio.Task] = set()


async def record_usage(event: UsageRecord) -> None:
    """Append the event to the usage stream, or insert it on the embedded default.

    Calls that end in the same turn of the event loop share one round trip (under load, many
    end together); each caller returns once its event is in the stream. When Redis does not
    answer, the event is written to the database directly rather than lost.
    """
    if settings.REDIS_URL:
        try:
            await _appended(event)
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


def _appended(event: UsageRecord) -> asyncio.Future:
    """The event's place in the loop's next append, which begins once the loop comes round."""
    loop = asyncio.get_running_loop()
    batch = _batches.get(loop)
    if batch is None:
        batch = _batches[loop] = _Batch()
        sending = loop.create_task(_append(loop, batch))
        _sending.add(sending)
        sending.add_done_callback(_sending.discard)
    done = loop.create_future()
    batch.waiting.append((event, done))
    return done


async def _append(loop: asyncio.AbstractEventLoop, batch: _Batch) -> None:
    """Send the batch's events in one round trip; tell each caller how it went."""
    del _batches[loop]
    client = shared.client_at(settings.REDIS_URL)
    options = {"maxlen": usage_settings.STREAM_MAXLEN, "approximate": True}
    try:
        if len(batch.waiting) == 1:
            await client.xadd(usage_settings.STREAM, _entry(batch.waiting[0][0]), **options)
        else:
            async with client.pipeline(transaction=False) as pipe:
                for event, _ in batch.waiting:
                    pipe.xadd(usage_settings.STREAM, _entry(event), **options)
                await pipe.execute()
    except Exception as error:
        for _, done in batch.waiting:
            if not done.done():
                done.set_exception(error)
    else:
        for _, done in batch.waiting:
            if not done.done():
                done.set_result(None)
    finally:
        # Stopped with its loop: no caller may wait for an append that will not come.
        for _, done in batch.waiting:
            done.cancel()


def _entry(record: UsageRecord) -> dict[FieldT, EncodableT]:
    """The record as a stream entry's fields, in redis-py's terms (str keys and values are)."""
    return cast(dict[FieldT, EncodableT], record.to_fields())
