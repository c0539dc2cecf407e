"""Server-sent events and NDJSON: reading a provider's stream, writing each surface's."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from typing import Any

DONE = b"data: [DONE]\n\n"
# OpenAI's closing event, which ends its streams.
DONE_DATA = b"[DONE]"


class EventSplitter:
    """Server-sent events out of bytes cut anywhere: the `data` of each event as it completes.

    Lines end in CRLF, LF or CR (the WHATWG event-stream grammar); an event's `data` lines are
    joined with LF; fields other than `data` and comments are skipped, and so is an event with
    no `data`. Splitting the bytes at LF never cuts a UTF-8 character, so the data is decoded
    once, by whoever reads it.
    """

    def __init__(self) -> None:
        self._rest = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data of the events this chunk completes."""
        buffer = self._rest + chunk if self._rest else chunk
        held = b""
        if b"\r" in buffer:
            if buffer.endswith(b"\r"):
                # Maybe the first half of a CRLF: it ends its line once the next byte is known.
                buffer, held = buffer[:-1], b"\r"
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        self._rest = lines.pop() + held
        return self._events(lines)

    def close(self) -> bytes | None:
        """The data of a last event the stream ended without closing (no blank line after it)."""
        rest, self._rest = self._rest.removesuffix(b"\r"), b""
        events = self._events([rest, b""])
        return events[0] if events else None

    def _events(self, lines: list[bytes]) -> list[bytes]:
        events = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append(b"\n".join(data))
                    data = self._data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
            elif line == b"data":
                data.append(b"")
        return events


async def sse_batches(chunks: AsyncIterable[bytes]) -> AsyncGenerator[list[bytes]]:
    """The data of the events each read of the stream completes, a list per read that
    completes any; OpenAI's closing `[DONE]` ends the stream."""
    splitter = EventSplitter()
    async for chunk in chunks:
        events = splitter.feed(chunk)
        if not events:
            continue
        if DONE_DATA in events:
            before = events[: events.index(DONE_DATA)]
            if before:
                yield before
            return
        yield events
    last = splitter.close()
    if last is not None and last != DONE_DATA:
        yield [last]


async def sse_json(chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, Any]]:
    """Each event's JSON payload; OpenAI's closing `[DONE]` ends the stream."""
    async for batch in sse_batches(chunks):
        for data in batch:
            yield json.loads(decoded(data))


async def ndjson(chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, Any]]:
    """One JSON object per non-empty line (Ollama's streaming format)."""
    rest = b""
    async for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            if line.strip():
                yield json.loads(decoded(line))
    if rest.strip():
        yield json.loads(decoded(rest))


def decoded(data: bytes) -> str:
    """The bytes as UTF-8 text (event streams are); a stray byte becomes U+FFFD, not a failure."""
    return data.decode("utf-8", "replace")


def event(payload: dict[str, Any]) -> bytes:
    """One OpenAI streaming event."""
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def named_event(name: str, payload: dict[str, Any]) -> bytes:
    """One event with its name, as the Responses and Messages streams send them."""
    data = json.dumps(payload, separators=(",", ":"))
    return f"event: {name}\ndata: {data}\n\n".encode()
