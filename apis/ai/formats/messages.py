"""Anthropic's Messages API: content blocks in, a `message` or its event stream out."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterable
from dataclasses import replace
from typing import Any

from apis.ai import anthropic
from apis.ai.chat import StreamFailed, StreamState, Usage, text_of
from apis.ai.formats import (
    ChunkWriter,
    Format,
    Writer,
    invalid,
    json_object,
    kept,
    objects,
    text_or_parts,
)
from apis.ai.outgoing import Outgoing, join
from apis.ai.sse import named_event, sse_json
from apis.ai.targets import Target

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
CHOICES = {"auto": "auto", "any": "required", "none": "none"}
TEXT_DELTAS = frozenset({"text_delta", "input_json_delta"})


class Messages(Format):
    """POST /v1/messages; Anthropic providers get the request as it is."""

    name = "messages"
    native_kind = "anthropic"

    def request(self, body: Any) -> dict[str, Any]:
        body = json_object(body)
        if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
            raise invalid("max_tokens: a positive integer is required.", "max_tokens")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise invalid("messages: a non-empty list of messages is required.", "messages")
        request: dict[str, Any] = {
            "messages": [*_system(body.get("system")), *_turns(messages)],
            "max_tokens": body["max_tokens"],
            "stream": bool(body.get("stream")),
        }
        if body.get("tools"):
            request["tools"] = [_tool(t) for t in objects(body["tools"], "tools")]
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            request.update(_tool_choice(choice))
        if body.get("stop_sequences"):
            request["stop"] = list(body["stop_sequences"])
        return request | kept(body, ("model", "temperature", "top_p"))

    def answer(self, answer: dict[str, Any], usage: Usage) -> dict[str, Any]:
        choice = answer["choices"][0]
        message = choice.get("message") or {}
        content = [{"type": "text", "text": message["content"]}] if message.get("content") else []
        content += [_tool_use(call) for call in message.get("tool_calls") or []]
        return {
            "id": _message_id(answer.get("id", "")),
            "type": "message",
            "role": "assistant",
            "model": answer.get("model", ""),
            "content": content,
            "stop_reason": STOP_REASONS.get(choice.get("finish_reason") or "", "end_turn"),
            "stop_sequence": None,
            "usage": usage_object(usage),
        }

    def writer(self, state: StreamState, body: dict[str, Any]) -> Writer:
        return MessagesWriter(state)

    def native_build(self, target: Target, body: dict[str, Any], stream: bool) -> Outgoing:
        outgoing = {**body, "model": target.model, "stream": stream}
        return Outgoing(
            join(target.provider.base_url, "v1/messages"), outgoing, native_headers(target)
        )

    def native_answer(self, data: dict[str, Any], model: str) -> tuple[dict[str, Any], Usage]:
        return {**data, "model": model}, anthropic.usage_of(data.get("usage") or {})

    async def native_events(
        self, chunks: AsyncIterable[bytes], state: StreamState
    ) -> AsyncGenerator[dict[str, Any]]:
        async for data in sse_json(chunks):
            if data.get("type") == "message_start":
                usage = (data.get("message") or {}).get("usage") or {}
                state.usage = replace(anthropic.usage_of(usage), completion_tokens=0)
            elif data.get("type") == "message_delta":
                state.usage = anthropic.final_usage(state.usage, data.get("usage") or {})
            elif data.get("type") == "error":
                # Sent on by the writer's error event, and the call charged as broken off.
                raise StreamFailed(anthropic.chat_error_text(data))
            yield data

    def native_writer(self, state: StreamState) -> Writer:
        return NativeMessagesWriter(state)


def native_headers(target: Target) -> dict[str, str]:
    """Anthropic's version header and the provider's key."""
    api_key = target.api_key()
    return {"anthropic-version": anthropic.VERSION, **({"x-api-key": api_key} if api_key else {})}


def count_tokens_build(target: Target, body: dict[str, Any]) -> Outgoing:
    """POST /v1/messages/count_tokens of an Anthropic provider, the request as it is."""
    url = join(target.provider.base_url, "v1/messages/count_tokens")
    return Outgoing(url, {**body, "model": target.model}, native_headers(target))


def usage_object(usage: Usage) -> dict[str, int]:
    """The core's usage in Anthropic's shape, whose input leaves the cached tokens out."""
    cached = usage.cache_read_tokens + usage.cache_write_tokens
    return {
        "input_tokens": max(usage.prompt_tokens - cached, 0),
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
    }


def error_body(kind: str, message: str) -> dict[str, Any]:
    """Anthropic's error envelope."""
    return {"type": "error", "error": {"type": kind, "message": message}}


def _message_id(provider_id: str) -> str:
    return provider_id if provider_id.startswith("msg_") else f"msg_{uuid.uuid4().hex}"


def _system(system: Any) -> list[dict[str, Any]]:
    if not system:
        return []
    text_or_parts(system, "system")
    return [{"role": "system", "content": text_of(system)}]


def _turns(messages: list[Any]) -> list[dict[str, Any]]:
    """User and assistant turns as chat messages; tool results become tool messages."""
    chat: list[dict[str, Any]] = []
    for message in objects(messages, "messages"):
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise invalid("messages: each role must be 'user' or 'assistant'.", "messages")
        content: Any = message.get("content")
        text_or_parts(content, "messages")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        chat += _assistant(blocks) if role == "assistant" else _user(blocks)
    return chat


def _user(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = [
        {
            "role": "tool",
            "tool_call_id": b.get("tool_use_id", ""),
            "content": b["content"]
            if isinstance(b.get("content"), str)
            else text_of(b.get("content")),
        }
        for b in blocks
        if b.get("type") == "tool_result"
    ]
    parts = [_part(b) for b in blocks if b.get("type") != "tool_result"]
    return [*results, *([{"role": "user", "content": parts}] if parts else [])]


def _assistant(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    calls = [
        {
            "id": b.get("id", ""),
            "type": "function",
            "function": {"name": b.get("name", ""), "arguments": json.dumps(b.get("input") or {})},
        }
        for b in blocks
        if b.get("type") == "tool_use"
    ]
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return [message]


def _part(block: dict[str, Any]) -> dict[str, Any]:
    if block.get("type") == "text":
        return {"type": "text", "text": block.get("text", "")}
    if block.get("type") == "image":
        source = block.get("source") or {}
        if source.get("type") == "base64":
            url = f"data:{source.get('media_type', '')};base64,{source.get('data', '')}"
        else:
            url = source.get("url", "")
        return {"type": "image_url", "image_url": {"url": url}}
    raise invalid(f"messages: content blocks of type '{block.get('type')}' are not offered.")


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") not in (None, "custom"):
        raise invalid(f"tools: tools of type '{tool['type']}' are not offered.", "tools")
    function = {"name": tool.get("name", ""), "parameters": tool.get("input_schema") or {}}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _tool_choice(choice: dict[str, Any]) -> dict[str, Any]:
    kind = choice.get("type")
    if kind == "tool":
        chosen: Any = {"type": "function", "function": {"name": choice.get("name", "")}}
    elif kind in CHOICES:
        chosen = CHOICES[kind]
    else:
        raise invalid("tool_choice: its type must be auto, any, tool or none.", "tool_choice")
    options = {"tool_choice": chosen}
    if choice.get("disable_parallel_tool_use"):
        options["parallel_tool_calls"] = False
    return options


def _tool_use(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    try:
        arguments = json.loads(function.get("arguments") or "{}")
    except ValueError:
        arguments = {}
    return {
        "type": "tool_use",
        "id": call.get("id") or f"toolu_{uuid.uuid4().hex}",
        "name": function.get("name", ""),
        "input": arguments,
    }


class MessagesWriter(ChunkWriter):
    """The core's chunks as Anthropic's event stream: message_start, each content block's
    start, deltas and stop, then message_delta with the usage and message_stop."""

    def __init__(self, state: StreamState) -> None:
        super().__init__(state)
        self.started = False
        self.index = -1
        self.open = ""
        self.tools: dict[int, int] = {}

    def end(self, usage: Usage) -> list[bytes]:
        stop = STOP_REASONS.get(self.state.finish_reason or "", "end_turn")
        closing = {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": usage_object(usage),
        }
        return [
            *self.start(),
            *self._close(),
            named_event("message_delta", closing),
            named_event("message_stop", {"type": "message_stop"}),
        ]

    def error(self, message: str) -> list[bytes]:
        return [*self.start(), named_event("error", error_body("api_error", message))]

    def start(self) -> list[bytes]:
        if self.started:
            return []
        self.started = True
        usage = usage_object(replace(self.state.usage, completion_tokens=0))
        message: dict[str, Any] = {
            "id": f"msg_{uuid.uuid4().hex}",
            "type": "message",
            "role": "assistant",
            "model": self.state.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return [named_event("message_start", {"type": "message_start", "message": message})]

    def text(self, text: str) -> list[bytes]:
        events = [] if self.open == "text" else self._open({"type": "text", "text": ""}, "text")
        delta = {"type": "text_delta", "text": text}
        return [*events, self._delta(delta)]

    def call(self, call: dict[str, Any]) -> list[bytes]:
        index = call.get("index", 0)
        function = call.get("function") or {}
        events = []
        if call.get("id") or index not in self.tools:
            block = {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{uuid.uuid4().hex}",
                "name": function.get("name", ""),
                "input": {},
            }
            events = self._open(block, "tool_use")
            self.tools[index] = self.index
        if function.get("arguments") and self.tools[index] == self.index:
            events.append(
                self._delta({"type": "input_json_delta", "partial_json": function["arguments"]})
            )
        return events

    def _open(self, block: dict[str, Any], kind: str) -> list[bytes]:
        events = self._close()
        self.index += 1
        self.open = kind
        start = {"type": "content_block_start", "index": self.index, "content_block": block}
        return [*events, named_event("content_block_start", start)]

    def _delta(self, delta: dict[str, Any]) -> bytes:
        payload = {"type": "content_block_delta", "index": self.index, "delta": delta}
        return named_event("content_block_delta", payload)

    def _close(self) -> list[bytes]:
        if not self.open:
            return []
        self.open = ""
        stop = {"type": "content_block_stop", "index": self.index}
        return [named_event("content_block_stop", stop)]


class NativeMessagesWriter(Writer):
    """Anthropic's own Messages events, sent on as they came."""

    def write(self, item: dict[str, Any]) -> list[bytes]:
        delta = item.get("delta") or {}
        if item.get("type") == "content_block_delta" and delta.get("type") in TEXT_DELTAS:
            self.output.append(delta.get("text") or delta.get("partial_json") or "")
        return [named_event(str(item.get("type", "")), item)]

    def error(self, message: str) -> list[bytes]:
        return [named_event("error", error_body("api_error", message))]
