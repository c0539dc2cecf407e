"""An async load generator for long calls: N requests at once, each timed to its last byte.

wrk measures throughput on a few keep-alive connections; this measures what a burst of slow
calls (1 s answers, 2 s streams) costs: the wall time of the burst and each call's latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


@dataclass(frozen=True)
class Burst:
    """A burst's figures in seconds: calls answered 200 in full, wall time, latencies.

    A call still running at the deadline counts as slower than any that finished; a call
    that failed counts in `failed` and in no latency.
    """

    calls: int
    ok: int
    failed: int
    unfinished: int
    wall_s: float
    p50_s: float
    p95_s: float
    first_byte_p50_s: float


@dataclass(frozen=True)
class Call:
    """What one request to a target is: method, URL, headers and an optional JSON body."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None

    @property
    def method(self) -> str:
        """POST when there is a body to send, else GET."""
        return "POST" if self.body is not None else "GET"

    def stream(self, client: httpx.AsyncClient):
        """The request as an httpx streaming context."""
        return client.stream(self.method, self.url, headers=self.headers, json=self.body)

    def send(self, *, timeout: float) -> httpx.Response:
        """The request, synchronously: to check a target before loading it."""
        return httpx.request(
            self.method, self.url, headers=self.headers, json=self.body, timeout=timeout
        )


def burst(call: Call, *, calls: int, deadline: float) -> Burst:
    """`calls` copies of the call at once on as many connections; each read to its end."""
    with _frozen_heap():
        return asyncio.run(_burst(call, calls, deadline))


def hold(call: Call, *, calls: int, deadline: float, measure: Callable[[], T]) -> tuple[int, T]:
    """Open `calls` streams at once, wait until each sent a first chunk (or the deadline),
    then `measure()` while they are all open; how many opened, and what was measured."""
    with _frozen_heap():
        return asyncio.run(_hold(call, calls, deadline, measure))


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """The load generator's own heap out of the garbage collector's reach while it loads.

    The bench process holds Django and the catalog it prepared (160,000 objects): each full
    collection during a burst walked them all, 0.1 s or more of the generator's CPU per burst
    taken from the two cores it shares with the servers it measures (the gateway freezes its
    own heap the same way, in portal/asgi.py).
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextlib.asynccontextmanager
async def _clients(calls: int, timeout: float) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One client per call, made before the clock starts. A shared pool would measure httpx:
    httpcore rescans every pooled connection on each request and each close, O(n²), about
    2.4 s of CPU for 256 concurrent calls on this machine against 0.3 s for separate clients."""
    # Loopback calls need no TLS, but each client would build (and load certificates into) an
    # SSL context of its own; one shared context makes a client cheap.
    tls = ssl.create_default_context()
    clients = [
        httpx.AsyncClient(timeout=timeout, verify=tls, trust_env=False) for _ in range(calls)
    ]
    try:
        yield clients
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))


async def _burst(call: Call, calls: int, deadline: float) -> Burst:
    async with _clients(calls, deadline) as clients:
        start = time.perf_counter()
        tasks = [asyncio.create_task(_timed(call, client, start)) for client in clients]
        done, pending = await asyncio.wait(tasks, timeout=deadline)
        await _cancel(pending)
    timings = [task.result() for task in done]
    finished = [t for t in timings if t is not None]
    ends = [end for _first, end in finished]
    unfinished = [math.inf] * len(pending)
    return Burst(
        calls=calls,
        ok=len(finished),
        failed=len(done) - len(finished),
        unfinished=len(pending),
        wall_s=deadline if pending else max(ends, default=0.0),
        p50_s=_percentile(ends + unfinished, 50),
        p95_s=_percentile(ends + unfinished, 95),
        first_byte_p50_s=_percentile([first for first, _end in finished] + unfinished, 50),
    )


async def _timed(call: Call, client: httpx.AsyncClient, start: float) -> tuple[float, float] | None:
    """Seconds from the burst's start to the call's first and last body byte; None if not 200."""
    first = None
    try:
        async with call.stream(client) as response:
            async for _chunk in response.aiter_raw():
                first = first or time.perf_counter() - start
            if response.status_code != 200:
                return None
    except httpx.HTTPError:
        return None
    end = time.perf_counter() - start
    return (first or end), end


async def _hold(call: Call, calls: int, deadline: float, measure: Callable[[], T]) -> tuple[int, T]:
    opened = asyncio.Semaphore(0)
    release = asyncio.Event()
    async with _clients(calls, deadline + 60) as clients:
        tasks = [asyncio.create_task(_open(call, client, opened, release)) for client in clients]
        count = await _count_opened(opened, calls, deadline)
        figure = measure()
        release.set()
        await _cancel(tasks)
    return count, figure


async def _open(
    call: Call, client: httpx.AsyncClient, opened: asyncio.Semaphore, release: asyncio.Event
) -> None:
    """One stream: its first chunk counted as opened, then held until released."""
    try:
        async with call.stream(client) as response:
            if response.status_code == 200:
                await anext(response.aiter_raw())
                opened.release()
            await release.wait()
    except (httpx.HTTPError, StopAsyncIteration):
        return


async def _count_opened(opened: asyncio.Semaphore, calls: int, deadline: float) -> int:
    """How many streams opened before all did or the deadline passed."""
    count = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(deadline):
            while count < calls:
                await opened.acquire()
                count += 1
    return count


async def _cancel(tasks) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _percentile(values: list[float], rank: int) -> float:
    """Nearest-rank percentile: exact with `inf` standing for unfinished calls."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(rank / 100 * len(ordered)) - 1)]
