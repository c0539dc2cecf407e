"""Calls of one event loop that need the same read at the same moment share one read of it."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

Result = TypeVar("Result")

# A future belongs to its event loop: each loop has its own reads in flight.
_in_flight: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, asyncio.Future]] = (
    weakref.WeakKeyDictionary()
)


async def single_flight(key: Hashable, read: Callable[[], Awaitable[Result]]) -> Result:
    """`read()`'s result; a call that comes while another call's read of `key` is on its way
    waits for that one's result (or exception) instead of making its own.

    The read runs in a task of its own: a caller cancelled while it waits cancels only itself.
    A joining caller gets a result read after it was asked for by the first caller, never older.
    """
    loop = asyncio.get_running_loop()
    flights = _in_flight.get(loop)
    if flights is None:
        flights = _in_flight[loop] = {}
    flight = flights.get(key)
    if flight is None:
        flight = flights[key] = asyncio.ensure_future(read())
        flight.add_done_callback(lambda done: _land(flights, key, done))
    return await asyncio.shield(flight)


def _land(flights: dict[Hashable, asyncio.Future], key: Hashable, done: asyncio.Future) -> None:
    if flights.get(key) is done:
        del flights[key]
