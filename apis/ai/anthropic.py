"""Anthropic Messages API: requests, answers and streams translated to and from OpenAI's."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable, Iterator
from dataclasses import replace
from typing import Any

from apis.ai import chat
from apis.ai.chat import StreamFailed, StreamState, Usage
from apis.ai.outgoing import Outgoing, join
from apis.ai.sse import sse_json

VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}
JSON_INSTRUCTION = "Answer with one JSON object only, no prose and no code fences."


def build(
    *, base_url: str, api_key: str, model: str, body: dict[str, Any], stream: bool
) -> Outgoing:
    """POST /v1/messages: system apart, max_tokens required, content blocks."""
    messages = body.get("messages", [])
    outgoing: dict[str, Any] = {
        "model": model,
        "messages": _messages(messages),
        "max_tokens": chat.max_tokens(body) or DEFAULT_MAX_TOKENS,
        "stream": stream,
    }
    system = _system(messages, body)
    if system:
        outgoing["system"] = system
    outgoing.update(_options(body))
    headers = {"anthropic-version": VERSION, **({"x-api-key": api_key} if api_key else {})}
    return Outgoing(join(base_url, "v1/messages"), outgoing, headers)


def _system(messages: list[dict[str, Any]], body: dict[str, Any]) -> str:
    texts = [
        chat.text_of(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
    ]
    if chat.wants_json(body):
        texts.append(JSON_INSTRUCTION)
    return "\n\n".join(t for t in texts if t)


def _options(body: dict[str, Any]) -> dict[str, Any]:
    options = {k: body[k] for k in ("temperature", "top_p") if body.get(k) is not None}
    if chat.stops(body):
        options["stop_sequences"] = chat.stops(body)
    if body.get("tools"):
        options["tools"] = [_tool(t["function"]) for t in body["tools"] if t.get("function")]
    choice = _tool_choice(body.get("tool_choice"))
    if choice and body.get("tools"):
        options["tool_choice"] = choice
    return options


def _tool(function: dict[str, Any]) -> dict[str, Any]:
    schema = function.get("parameters") or {"type": "object", "properties": {}}
    tool = {"name": function["name"], "input_schema": schema}
    if function.get("description"):
        tool["description"] = function["description"]
    return tool


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if isinstance(choice, dict):
        return {"type": "tool", "name": choice.get("function", {}).get("name", "")}
    return {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}.get(
        choice or ""
    )


def _messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """User/assistant turns; tool results become user turns, consecutive ones merged."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            continue
        blocks = _blocks(message)
        turn_role = "assistant" if role == "assistant" else "user"
        if turns and turns[-1]["role"] == turn_role and role == "tool":
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": turn_role, "content": blocks})
    return turns


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    if message.get("role") == "tool":
        content = chat.text_of(message.get("content"))
        return [
            {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id", ""),
                "content": content,
            }
        ]
    blocks = [b for b in (_block(p) for p in chat.parts_of(message.get("content"))) if b]
    for call in message.get("tool_calls") or []:
        function = call.get("function", {})
        arguments = json.loads(function.get("arguments") or "{}")
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id", ""),
                "name": function.get("name", ""),
                "input": arguments,
            }
        )
    return blocks


def _block(part: dict[str, Any]) -> dict[str, Any] | None:
    if part.get("type") == "text":
        return {"type": "text", "text": part.get("text", "")} if part.get("text") else None
    if part.get("type") == "image_url":
        url = (part.get("image_url") or {}).get("url", "")
        inline = chat.data_url(url)
        if inline:
            return {
                "type": "image",
                "source": {"type": "base64", "media_type": inline[0], "data": inline[1]},
            }
        return {"type": "image", "source": {"type": "url", "url": url}}
    return None


def parse(data: dict[str, Any], *, model: str) -> tuple[dict[str, Any], Usage]:
    """A Messages answer as a chat.completion."""
    texts = [b.get("text", "") for b in data.get("content", []) if b.get("type") == "text"]
    calls = [
        chat.tool_call(b["id"], b["name"], b.get("input") or {})
        for b in data.get("content", [])
        if b.get("type") == "tool_use"
    ]
    usage = usage_of(data.get("usage") or {})
    answer = chat.completion(
        model=model,
        content="".join(texts) if texts or not calls else None,
        tool_calls=calls,
        finish_reason=FINISH.get(data.get("stop_reason") or "", "stop"),
        usage=usage,
        id=data.get("id", ""),
    )
    return answer, usage


def usage_of(usage: dict[str, Any]) -> Usage:
    # Cached input is billed apart by Anthropic but is input all the same.
    read = usage.get("cache_read_input_tokens") or 0
    written = usage.get("cache_creation_input_tokens") or 0
    return Usage(
        (usage.get("input_tokens") or 0) + read + written,
        usage.get("output_tokens") or 0,
        cache_read_tokens=read,
        cache_write_tokens=written,
    )


async def stream(
    chunks: AsyncIterable[bytes], state: StreamState, *, include_usage: bool
) -> AsyncGenerator[dict[str, Any]]:
    """Messages stream events as chat.completion.chunk objects, one for one."""
    tool_index: dict[int, int] = {}
    async for event in sse_json(chunks):
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            # Its output count is a placeholder; message_delta brings the real one.
            state.usage = replace(usage_of(message.get("usage") or {}), completion_tokens=0)
            yield state.chunk({"role": "assistant", "content": ""})
        elif kind == "content_block_start":
            for chunk in _block_start(event, state, tool_index):
                yield chunk
        elif kind == "content_block_delta":
            for chunk in _block_delta(event, state, tool_index):
                yield chunk
        elif kind == "message_delta":
            state.usage = final_usage(state.usage, event.get("usage") or {})
            state.finish_reason = FINISH.get(
                (event.get("delta") or {}).get("stop_reason") or "", "stop"
            )
            yield state.chunk({}, state.finish_reason)
        elif kind == "error":
            raise StreamFailed(chat_error_text(event))
    if include_usage:
        yield state.usage_chunk()


def final_usage(started: Usage, usage: dict[str, Any]) -> Usage:
    """message_start's counts, updated by message_delta's (which may repeat the input ones)."""
    if usage.get("input_tokens") is not None:
        return replace(usage_of(usage), completion_tokens=usage.get("output_tokens") or 0)
    output = usage.get("output_tokens")
    return replace(
        started, completion_tokens=started.completion_tokens if output is None else output
    )


def _block_start(
    event: dict[str, Any], state: StreamState, tool_index: dict[int, int]
) -> Iterator[dict[str, Any]]:
    block = event.get("content_block") or {}
    if block.get("type") == "tool_use":
        index = tool_index.setdefault(event.get("index", 0), len(tool_index))
        call = {"index": index, **chat.tool_call(block.get("id", ""), block.get("name", ""), "")}
        yield state.chunk({"tool_calls": [call]})
    elif block.get("text"):
        yield state.chunk({"content": block["text"]})


def _block_delta(
    event: dict[str, Any], state: StreamState, tool_index: dict[int, int]
) -> Iterator[dict[str, Any]]:
    delta = event.get("delta") or {}
    if delta.get("type") == "text_delta":
        yield state.chunk({"content": delta.get("text", "")})
    elif delta.get("type") == "input_json_delta":
        index = tool_index.get(event.get("index", 0), 0)
        arguments = {"index": index, "function": {"arguments": delta.get("partial_json", "")}}
        yield state.chunk({"tool_calls": [arguments]})


def chat_error_text(event: dict[str, Any]) -> str:
    """The message of an error event inside a stream."""
    return str((event.get("error") or {}).get("message") or "The provider's stream failed.")
