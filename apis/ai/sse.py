"""Server-sent events and NDJSON: reading a provider's stream, writing OpenAI's."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

DONE = b"data: [DONE]\n\n"


def sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The `data` of each event, as the event's lines arrive (multi-line data joined)."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield "\n".join(data)


def sse_json(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Each event's JSON payload; OpenAI's closing `[DONE]` ends the stream."""
    for data in sse_data(lines):
        if data == "[DONE]":
            return
        yield json.loads(data)


def ndjson(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """One JSON object per non-empty line (Ollama's streaming format)."""
    for line in lines:
        if line.strip():
            yield json.loads(line)


def event(payload: dict[str, Any]) -> bytes:
    """One OpenAI streaming event."""
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
