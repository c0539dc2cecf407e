"""Server-sent events and NDJSON: reading a provider's stream, writing each surface's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

DONE = b"data: [DONE]\n\n"


async def sse_data(lines: AsyncIterable[str]) -> AsyncIterator[str]:
    """The `data` of each event, as the event's lines arrive (multi-line data joined)."""
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield "\n".join(data)


async def sse_json(lines: AsyncIterable[str]) -> AsyncIterator[dict[str, Any]]:
    """Each event's JSON payload; OpenAI's closing `[DONE]` ends the stream."""
    async for data in sse_data(lines):
        if data == "[DONE]":
            return
        yield json.loads(data)


async def ndjson(lines: AsyncIterable[str]) -> AsyncIterator[dict[str, Any]]:
    """One JSON object per non-empty line (Ollama's streaming format)."""
    async for line in lines:
        if line.strip():
            yield json.loads(line)


def event(payload: dict[str, Any]) -> bytes:
    """One OpenAI streaming event."""
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def named_event(name: str, payload: dict[str, Any]) -> bytes:
    """One event with its name, as the Responses and Messages streams send them."""
    data = json.dumps(payload, separators=(",", ":"))
    return f"event: {name}\ndata: {data}\n\n".encode()
