"""The loopback upstream of the benchmarks: slow REST calls, SSE streams and a mock OpenAI.

A raw ASGI application (no framework, so it is never the bottleneck), served as
`bench.upstream:application` by an ASGI server with uvloop:

- `GET /slow`: a JSON answer after 1 s;
- `GET /sse`: 10 server-sent events, 0.2 s apart;
- `POST /v1/chat/completions`, `GET /v1/models`: OpenAI's wire format, streaming or not.
  The model `gpt-bench` streams 10 chunks 0.2 s apart; `gpt-bench-idle` streams one chunk,
  then holds the stream open without a word, as a slow model thinking would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

MODEL = "gpt-bench"
IDLE_MODEL = "gpt-bench-idle"
# A stream sends one chunk per word, each CHUNK_GAP after the last: 10 chunks over 2 s.
ANSWER = "Hello from the bench mock, which streams ten chunks now."
_FIRST, *_REST = ANSWER.split(" ")
ANSWER_WORDS = [_FIRST, *(f" {word}" for word in _REST)]
CHUNKS = len(ANSWER_WORDS)
CHUNK_GAP = 0.2
SLOW_SECONDS = 1.0
IDLE_SECONDS = 600.0

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]

SSE_EVENTS = [f'data: {{"n":{n}}}\n\n'.encode() for n in range(CHUNKS)]


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    """Route by method and path; anything else is 404."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    route = (scope["method"], scope["path"])
    if route == ("POST", "/v1/chat/completions"):
        await chat_completions(await _body(receive), receive, send)
    elif route == ("GET", "/slow"):
        await asyncio.sleep(SLOW_SECONDS)
        await _answer(send, 200, {"slept": SLOW_SECONDS})
    elif route == ("GET", "/sse"):
        await _stream(send, SSE_EVENTS, paced=CHUNKS)
        await _end(send)
    elif route == ("GET", "/v1/models"):
        await _answer(send, 200, {"object": "list", "data": [_model(MODEL), _model(IDLE_MODEL)]})
    else:
        await _answer(send, 404, {"error": {"message": "no such route", "type": "not_found"}})


async def chat_completions(request: dict[str, Any], receive: Receive, send: Send) -> None:
    """One chat completion, as OpenAI answers it: a JSON object, or chunks over SSE."""
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    model = str(request.get("model") or MODEL)
    if not request.get("stream"):
        await _answer(send, 200, completion(completion_id, model))
        return
    include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
    events = chunk_events(completion_id, model, include_usage=include_usage)
    if model.endswith(IDLE_MODEL):
        await _stream(send, events[:1], paced=0)
        await _hold(receive)
    else:
        await _stream(send, events, paced=CHUNKS)
    await _end(send)


def completion(completion_id: str, model: str) -> dict[str, Any]:
    """A `chat.completion` object with every field OpenAI sends."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": ANSWER,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(),
        "service_tier": "default",
        "system_fingerprint": "fp_bench",
    }


def chunk_events(completion_id: str, model: str, *, include_usage: bool) -> list[bytes]:
    """The SSE events of a streamed completion: one per word, the finish, usage, [DONE]."""
    head = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "service_tier": "default",
        "system_fingerprint": "fp_bench",
    }
    # With include_usage OpenAI sends "usage": null on every chunk but the last.
    if include_usage:
        head["usage"] = None
    first = {"role": "assistant", "content": "", "refusal": None}
    deltas = [{**first, "content": ANSWER_WORDS[0]}] + [{"content": w} for w in ANSWER_WORDS[1:]]
    events = [_choice_chunk(head, delta, None) for delta in deltas]
    events.append(_choice_chunk(head, {}, "stop"))
    if include_usage:
        events.append(_event({**head, "choices": [], "usage": _usage()}))
    events.append(b"data: [DONE]\n\n")
    return events


def _choice_chunk(head: dict[str, Any], delta: dict[str, Any], finish: str | None) -> bytes:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return _event({**head, "choices": [choice]})


def _usage() -> dict[str, Any]:
    return {
        "prompt_tokens": 12,
        "completion_tokens": len(ANSWER_WORDS),
        "total_tokens": 12 + len(ANSWER_WORDS),
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1700000000, "owned_by": "bench"}


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


async def _stream(send: Send, events: Iterable[bytes], *, paced: int) -> None:
    """A chunked body whose first `paced` events each wait CHUNK_GAP seconds; it stays open
    when the caller holds it."""
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
    for index, event in enumerate(events):
        if index < paced:
            await asyncio.sleep(CHUNK_GAP)
        await send({"type": "http.response.body", "body": event, "more_body": True})


async def _end(send: Send) -> None:
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _hold(receive: Receive) -> None:
    """Keep the stream open until the client goes away (or IDLE_SECONDS pass)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(IDLE_SECONDS):
            while (await receive())["type"] != "http.disconnect":
                pass


async def _answer(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _body(receive: Receive) -> dict[str, Any]:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    try:
        return json.loads(b"".join(chunks) or b"{}")
    except ValueError:
        return {}


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        kind = (await receive())["type"]
        await send({"type": f"{kind}.complete"})
        if kind == "lifespan.shutdown":
            return
