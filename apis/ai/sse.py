"""Server-sent events and NDJSON: reading a provider's stream, writing each surface's."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from typing import Any

from apis.conf import gateway_settings

DONE = b"data: [DONE]\n\n"
# OpenAI's closing event, which ends its streams.
DONE_DATA = b"[DONE]"
# The field name a line of data begins with, which an unfinished line may still hold.
DATA_FIELD = len(b"data: ")


class EventTooLarge(ValueError):
    """A stream sent an event, or a line, over the limit: it is broken from there on.

    `before`: the data of the events the same read completed before it, the answer so far.
    """

    def __init__(self, limit: int, before: list[bytes] | None = None) -> None:
        super().__init__(f"it sent an event over the gateway's limit of {limit} bytes")
        self.before = before or []


class EventSplitter:
    """Server-sent events out of bytes cut anywhere: the `data` of each event as it completes.

    Lines end in CRLF, LF or CR (the WHATWG event-stream grammar); an event's `data` lines are
    joined with LF; fields other than `data` and comments are skipped, and so is an event with
    no `data`. Splitting the bytes at LF never cuts a UTF-8 character, so the data is decoded
    once, by whoever reads it.

    An event whose data is over `limit` bytes (the gateway's STREAM_EVENT_LIMIT unless told)
    raises EventTooLarge, and so does an unfinished line that cannot be part of a smaller one:
    a stream that never ends its line or its event holds no more than that.
    """

    def __init__(self, limit: int | None = None) -> None:
        # The unfinished line, in the pieces it came in, and its length.
        self._line: list[bytes] = []
        self._line_size = 0
        self._data: list[bytes] = []
        # Bytes of the unfinished event's data, as joined.
        self._size = 0
        self._limit = gateway_settings.STREAM_EVENT_LIMIT if limit is None else limit

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data of the events this chunk completes."""
        if b"\n" not in chunk and b"\r" not in chunk and not self._held_cr():
            # Still inside a line: kept as it came and joined once the line ends; joining on
            # every read would copy a long line again for each of its reads.
            self._line.append(chunk)
            self._line_size += len(chunk)
            if self._size + self._line_size > self._limit + DATA_FIELD:
                raise EventTooLarge(self._limit)
            return []
        buffer = b"".join([*self._line, chunk]) if self._line else chunk
        held = b""
        if b"\r" in buffer:
            if buffer.endswith(b"\r"):
                # Maybe the first half of a CRLF: it ends its line once the next byte is known.
                buffer, held = buffer[:-1], b"\r"
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        unfinished = lines.pop()
        self._line = [unfinished + held] if unfinished or held else []
        self._line_size = len(unfinished)
        events = self._events(lines)
        if self._size + len(unfinished) > self._limit + DATA_FIELD:
            raise EventTooLarge(self._limit, events)
        return events

    def close(self) -> bytes | None:
        """The data of a last event the stream ended without closing (no blank line after it)."""
        rest = b"".join(self._line).removesuffix(b"\r")
        self._line, self._line_size = [], 0
        events = self._events([rest, b""])
        return events[0] if events else None

    def _held_cr(self) -> bool:
        # A read that ended in CR: the next byte tells whether that CR ended its line alone.
        return bool(self._line) and self._line[-1].endswith(b"\r")

    def _events(self, lines: list[bytes]) -> list[bytes]:
        events = []
        data, size, limit = self._data, self._size, self._limit
        for line in lines:
            if not line:
                if data:
                    events.append(b"\n".join(data))
                    data = self._data = []
                    size = 0
            elif line.startswith(b"data:") or line == b"data":
                value = line[6:] if line.startswith(b" ", 5) else line[5:]
                # Joined, each line after the first costs its LF too.
                size += len(value) + (1 if data else 0)
                if size > limit:
                    raise EventTooLarge(limit, events)
                data.append(value)
        self._size = size
        return events


async def sse_batches(chunks: AsyncIterable[bytes]) -> AsyncGenerator[list[bytes]]:
    """The data of the events each read of the stream completes, a list per read that
    completes any; OpenAI's closing `[DONE]` ends the stream. An event over the limit breaks
    it (EventTooLarge) once the events before it are out."""
    splitter = EventSplitter()
    async for chunk in chunks:
        broken = None
        try:
            events = splitter.feed(chunk)
        except EventTooLarge as too_large:
            events, broken = too_large.before, too_large
        if DONE_DATA in events:
            before = events[: events.index(DONE_DATA)]
            if before:
                yield before
            return
        if events:
            yield events
        if broken is not None:
            raise broken
    last = splitter.close()
    if last is not None and last != DONE_DATA:
        yield [last]


async def sse_json(chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, Any]]:
    """Each event's JSON payload; OpenAI's closing `[DONE]` ends the stream."""
    async for batch in sse_batches(chunks):
        for data in batch:
            yield json.loads(decoded(data))


async def ndjson(chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, Any]]:
    """One JSON object per non-empty line (Ollama's streaming format); a line over the
    gateway's STREAM_EVENT_LIMIT raises EventTooLarge."""
    # The unfinished line in the pieces it came in, joined once it ends (not on every read).
    line: list[bytes] = []
    size, limit = 0, gateway_settings.STREAM_EVENT_LIMIT
    async for chunk in chunks:
        if b"\n" in chunk:
            lines = b"".join([*line, chunk]).split(b"\n")
            rest = lines.pop()
            line, size = [rest] if rest else [], len(rest)
            for complete in lines:
                if len(complete) > limit:
                    raise EventTooLarge(limit)
                if complete.strip():
                    yield json.loads(decoded(complete))
        else:
            line.append(chunk)
            size += len(chunk)
        if size > limit:
            raise EventTooLarge(limit)
    rest = b"".join(line)
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
