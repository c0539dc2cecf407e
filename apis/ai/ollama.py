"""Ollama /api/chat: options, NDJSON streaming, translated to and from OpenAI's format."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any

from apis.ai import chat
from apis.ai.chat import StreamFailed, StreamState, Usage
from apis.ai.outgoing import Outgoing, join
from apis.ai.sse import ndjson

FINISH = {"stop": "stop", "length": "length"}


def build(
    *, base_url: str, api_key: str, model: str, body: dict[str, Any], stream: bool
) -> Outgoing:
    """POST /api/chat with messages, tools, format and options."""
    outgoing: dict[str, Any] = {
        "model": model,
        "messages": [_message(m) for m in body.get("messages", [])],
        "stream": stream,
    }
    if body.get("tools"):
        outgoing["tools"] = body["tools"]
    if chat.wants_json(body):
        outgoing["format"] = chat.json_schema(body) or "json"
    options = _options(body)
    if options:
        outgoing["options"] = options
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return Outgoing(join(base_url, "api/chat"), outgoing, headers)


def _options(body: dict[str, Any]) -> dict[str, Any]:
    names = {"temperature": "temperature", "top_p": "top_p", "seed": "seed"}
    options = {names[k]: body[k] for k in names if body.get(k) is not None}
    if chat.max_tokens(body):
        options["num_predict"] = chat.max_tokens(body)
    if chat.stops(body):
        options["stop"] = chat.stops(body)
    return options


def _message(message: dict[str, Any]) -> dict[str, Any]:
    role = "system" if message.get("role") == "developer" else message.get("role")
    parts = chat.parts_of(message.get("content"))
    out: dict[str, Any] = {"role": role, "content": chat.text_of(message.get("content"))}
    images = [
        chat.data_url(p.get("image_url", {}).get("url", ""))
        for p in parts
        if p.get("type") == "image_url"
    ]
    if any(images):
        out["images"] = [image[1] for image in images if image]
    if message.get("tool_calls"):
        out["tool_calls"] = [_native_call(c) for c in message["tool_calls"]]
    return out


def _native_call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function", {})
    arguments = json.loads(function.get("arguments") or "{}")
    return {"function": {"name": function.get("name", ""), "arguments": arguments}}


def _calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        chat.tool_call(
            f"call_{uuid.uuid4().hex[:24]}",
            c["function"]["name"],
            c["function"].get("arguments") or {},
        )
        for c in message.get("tool_calls") or []
    ]


def _usage(data: dict[str, Any]) -> Usage:
    return Usage(data.get("prompt_eval_count") or 0, data.get("eval_count") or 0)


def _finish(data: dict[str, Any], calls: bool) -> str:
    return "tool_calls" if calls else FINISH.get(data.get("done_reason") or "stop", "stop")


def parse(data: dict[str, Any], *, model: str) -> tuple[dict[str, Any], Usage]:
    """A non-streamed /api/chat answer as a chat.completion."""
    message = data.get("message") or {}
    calls = _calls(message)
    usage = _usage(data)
    answer = chat.completion(
        model=model,
        content=message.get("content") if message.get("content") or not calls else None,
        tool_calls=calls,
        finish_reason=_finish(data, bool(calls)),
        usage=usage,
    )
    return answer, usage


async def stream(
    chunks: AsyncIterable[bytes], state: StreamState, *, include_usage: bool
) -> AsyncGenerator[dict[str, Any]]:
    """NDJSON lines as chunks; the closing `done` line carries the counts."""
    first, calls = True, 0
    async for data in ndjson(chunks):
        if data.get("error"):
            raise StreamFailed(str(data["error"]))
        message = data.get("message") or {}
        delta: dict[str, Any] = {"role": "assistant"} if first else {}
        first = False
        if message.get("content"):
            delta["content"] = message["content"]
        for call in _calls(message):
            delta.setdefault("tool_calls", []).append({"index": calls, **call})
            calls += 1
        if delta:
            yield state.chunk(delta)
        if data.get("done"):
            state.usage = _usage(data)
            state.finish_reason = _finish(data, bool(calls))
    yield state.chunk({}, state.finish_reason or "stop")
    if include_usage:
        yield state.usage_chunk()


def embeddings_build(
    *,
    base_url: str,
    api_key: str,
    model: str,
    texts: list[str],
    dimensions: int | None,
) -> Outgoing:
    """POST /api/embed with every text at once."""
    body: dict[str, Any] = {"model": model, "input": texts}
    if dimensions:
        body["dimensions"] = dimensions
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return Outgoing(join(base_url, "api/embed"), body, headers)


def embeddings_parse(data: dict[str, Any]) -> tuple[list[list[float]], Usage]:
    """The vectors and the prompt tokens Ollama counted."""
    return data.get("embeddings") or [], Usage(data.get("prompt_eval_count") or 0)
