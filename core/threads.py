"""Where the data plane leaves the event loop: sync ORM work, on one thread per process.

The gateway's warm path never comes here; a cold lookup (an API, a subscription, a token's keys
not yet in memory) does, because Django's ORM is synchronous.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.db import connections

Result = TypeVar("Result")


async def in_database_thread(work: Callable[[], Result]) -> Result:
    """`work()` run off the event loop, on the thread the process keeps for the ORM."""
    return await sync_to_async(_with_healthy_connections(work))()


def _with_healthy_connections(work: Callable[[], Result]) -> Callable[[], Result]:
    def run() -> Result:
        # No request signals recycle this thread's connections: drop one that broke or aged
        # out, as Django does at the start of a request. A connection inside a transaction
        # (a test's) is not ours to drop.
        for connection in connections.all(initialized_only=True):
            if not connection.in_atomic_block:
                connection.close_if_unusable_or_obsolete()
        return work()

    return run
