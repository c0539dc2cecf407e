"""`python -m bench.ai_stream`: the CPU one process spends reading and writing one AI stream.

The bench mock's chat stream (12 events: 10 text chunks, the finish, the usage) goes through the
layers between the provider's bytes and the client's events, in memory: relayed as the gateway
relays an OpenAI-format provider, and translated chunk by chunk as for any other. Run it in two
checkouts to compare them; no server, no network, so other processes on the machine matter less.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import AsyncIterator

STREAMS = int(os.environ.get("BENCH_STREAMS", "2000"))
ROUNDS = 5


async def _reads(events: list[bytes]) -> AsyncIterator[bytes]:
    for event in events:
        yield event


async def _relayed(events: list[bytes]) -> None:
    from apis.ai.chat import StreamState
    from apis.ai.formats.chat import ChatRelay
    from apis.ai.sse import sse_batches

    relay = ChatRelay(StreamState(model="bench-mock/gpt-bench"), include_usage=True)
    async for batch in sse_batches(_reads(events)):
        relay.write(batch)
    relay.end(relay.state.usage)


async def _translated(events: list[bytes]) -> None:
    from apis.ai import openai
    from apis.ai.chat import StreamState
    from apis.ai.formats.chat import ChatWriter

    state = StreamState(model="bench-mock/gpt-bench")
    writer = ChatWriter(state, include_usage=True)
    async for chunk in openai.stream(_reads(events), state, include_usage=False):
        writer.write(chunk)
    writer.end(state.usage)


async def _per_stream(one, events: list[bytes]) -> list[float]:
    """Microseconds of CPU per stream, one figure per round."""
    figures = []
    for _ in range(ROUNDS):
        began = time.process_time()
        for _ in range(STREAMS):
            await one(events)
        figures.append((time.process_time() - began) / STREAMS * 1e6)
    return figures


async def main() -> None:
    """Print the median and best CPU per stream, relayed and translated."""
    from bench.upstream import chunk_events

    events = chunk_events("chatcmpl-bench", "gpt-bench", include_usage=True)
    for name, one in (("relayed", _relayed), ("translated", _translated)):
        figures = await _per_stream(one, events)
        print(
            f"{name}: {statistics.median(figures):.0f} µs per stream of {len(events)} events"
            f" (best {min(figures):.0f} µs, {ROUNDS} rounds of {STREAMS})"
        )


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    asyncio.run(main())
