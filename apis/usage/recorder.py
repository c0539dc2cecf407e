"""Recording one usage event from the data plane without making the caller wait on the database."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis
from django.conf import settings
from django.db import DatabaseError
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError
from redis.typing import EncodableT, FieldT

from apis.usage.conf import usage_settings
from apis.usage.records import UsageRecord
from apis.usage.services import usage_event_create
from core import redis_clients, shared
from core.threads import in_database_thread

__all__ = ["Alongside", "UsageRecord", "record_usage"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alongside:
    """A script of the shared cache to run with a usage event (a call's settlement), in the
    event's round trip when the stream lives on the same Redis."""

    script: AsyncScript
    keys: list[str]
    args: list[int]

    async def run(self) -> Any:
        """Run the script on its own (loading it first if Redis has forgotten it)."""
        return await self.script(keys=self.keys, args=self.args)


class _Batch:
    """Events to append together, each with the scripts sent with it and the future its caller
    awaits (their replies)."""

    def __init__(self) -> None:
        self.waiting: list[tuple[UsageRecord, Sequence[Alongside], asyncio.Future]] = []


# Per event loop, the batch the next append will send.
_batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batch] = weakref.WeakKeyDictionary()
# The appends under way: a task the loop alone refers to may be collected before it is done.
_sending: set[asyncio.Task] = set()


async def record_usage(event: UsageRecord, *, alongside: Sequence[Alongside] = ()) -> list[Any]:
    """Append the event to the usage stream, or insert it on the embedded default; the replies
    of the `alongside` scripts (an exception in place of a script that failed), sent just
    before it in its round trip (on a Redis Cluster, to their own node at the same moment).

    Calls that end in the same turn of the event loop share one round trip (under load, many
    end together), their scripts in it too; each caller returns once its event is in the
    stream. When Redis does not answer, the event is written to the database directly rather
    than lost.
    """
    if _carries(alongside):
        return await _recorded(event, alongside)
    # A cluster's pipeline takes no scripts: they go to their node beside the event, at once.
    beside = [asyncio.ensure_future(_run(script)) for script in alongside]
    await _recorded(event, ())
    return [await reply for reply in beside]


def _carries(alongside: Sequence[Alongside]) -> bool:
    """Whether the scripts can ride in the stream's pipeline: the cache is the stream's Redis,
    and not a cluster."""
    url = settings.REDIS_URL
    same = url and settings.CACHES["default"].get("LOCATION") == url
    return not alongside or bool(same and not redis_clients.is_cluster(url))


async def _recorded(event: UsageRecord, alongside: Sequence[Alongside]) -> list[Any]:
    """The event appended after the scripts (the replies), or else written to the database."""
    replies: list[Any] = []
    if settings.REDIS_URL:
        try:
            failed, replies = await _appended(event, alongside)
        except redis.RedisError as error:
            failed, replies = error, [error for _ in alongside]
        if failed is None:
            return replies
        logger.warning("usage stream unreachable; request %s written directly", event.request_id)
    try:
        await in_database_thread(lambda: usage_event_create(record=event, source_id=event.event_id))
    except DatabaseError:
        # Redis and the database both down: the answer has gone out; say what was not counted.
        logger.error("usage event of request %s lost: no Redis, no database", event.request_id)
    return replies


async def _run(script: Alongside) -> Any:
    try:
        return await script.run()
    except redis.RedisError as error:
        return error


def _appended(event: UsageRecord, alongside: Sequence[Alongside]) -> asyncio.Future:
    """The event's place in the loop's next append, which begins once the loop comes round:
    (the append's error or None, the scripts' replies)."""
    loop = asyncio.get_running_loop()
    batch = _batches.get(loop)
    if batch is None:
        batch = _batches[loop] = _Batch()
        sending = loop.create_task(_append(loop, batch))
        _sending.add(sending)
        sending.add_done_callback(_sending.discard)
    done = loop.create_future()
    batch.waiting.append((event, alongside, done))
    return done


async def _append(loop: asyncio.AbstractEventLoop, batch: _Batch) -> None:
    """Send the batch's events, each after its scripts, in one round trip; tell each caller how
    it went."""
    del _batches[loop]
    client = shared.client_at(settings.REDIS_URL)
    options = {"maxlen": usage_settings.STREAM_MAXLEN, "approximate": True}
    try:
        if len(batch.waiting) == 1 and not batch.waiting[0][1]:
            await client.xadd(usage_settings.STREAM, _entry(batch.waiting[0][0]), **options)
            replies: list[Any] = [None]
        else:
            async with client.pipeline(transaction=False) as pipe:
                for event, alongside, _ in batch.waiting:
                    for script in alongside:
                        pipe.evalsha(
                            script.script.sha, len(script.keys), *script.keys, *script.args
                        )
                    pipe.xadd(usage_settings.STREAM, _entry(event), **options)
                replies = await pipe.execute(raise_on_error=False)
    except Exception as error:
        for _, _, done in batch.waiting:
            if not done.done():
                done.set_exception(error)
    else:
        await _answer(batch, replies)
    finally:
        # Stopped with its loop: no caller may wait for an append that will not come.
        for _, _, done in batch.waiting:
            done.cancel()


async def _answer(batch: _Batch, replies: list[Any]) -> None:
    """Hand each caller its replies; a script Redis had forgotten is loaded and run again."""
    at = 0
    for _, alongside, done in batch.waiting:
        scripts = replies[at : at + len(alongside)]
        appended = replies[at + len(alongside)]
        at += len(alongside) + 1
        for i, (script, reply) in enumerate(zip(alongside, scripts, strict=True)):
            if isinstance(reply, NoScriptError):
                scripts[i] = await _run(script)
        if not done.done():
            done.set_result((appended if isinstance(appended, Exception) else None, scripts))


def _entry(record: UsageRecord) -> dict[FieldT, EncodableT]:
    """The record as a stream entry's fields, in redis-py's terms (str keys and values are)."""
    return cast(dict[FieldT, EncodableT], record.to_fields())
