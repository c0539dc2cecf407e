"""OpenAI's Responses API: `input` items in, a `response` object or its event stream out.

Stateless: the gateway keeps no responses, so `previous_response_id`, `conversation`,
`background` and `store: true` are refused, and a call passed through to OpenAI is sent with
`store: false`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any

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
from core.clock import clock

STATEFUL = {
    "previous_response_id": "send the whole conversation in 'input' instead",
    "conversation": "send the whole conversation in 'input' instead",
    "background": "call without 'background' and wait for the answer, or stream it",
}
CHOICES = frozenset({"auto", "none", "required"})
STATUS = {"length": "incomplete", "content_filter": "incomplete"}
INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


class Responses(Format):
    """POST /responses; OpenAI providers get the request as it is."""

    name = "responses"
    native_kind = "openai"
    max_output_field = "max_output_tokens"

    def request(self, body: Any) -> dict[str, Any]:
        body = json_object(body)
        _refuse_state(body)
        request: dict[str, Any] = {"messages": _messages(body), "stream": bool(body.get("stream"))}
        if body.get("tools"):
            request["tools"] = [_tool(t) for t in objects(body["tools"], "tools")]
        if body.get("tool_choice") is not None:
            request["tool_choice"] = _tool_choice(body["tool_choice"])
        fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
        if isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object"):
            request["response_format"] = _response_format(fmt)
        if body.get("max_output_tokens") is not None:
            request["max_completion_tokens"] = body["max_output_tokens"]
        return request | kept(body, ("model", "temperature", "top_p", "parallel_tool_calls"))

    def answer(self, answer: dict[str, Any], usage: Usage) -> dict[str, Any]:
        choice = answer["choices"][0]
        message = choice.get("message") or {}
        output = []
        if message.get("content"):
            output.append(_message_item(_id("msg"), message["content"], "completed"))
        output += [_call_item(call, "completed") for call in message.get("tool_calls") or []]
        return response_object(
            answer.get("model", ""), output, usage, finish=choice.get("finish_reason")
        )

    def writer(self, state: StreamState, body: dict[str, Any]) -> Writer:
        return ResponsesWriter(state)

    def native_build(self, target: Target, body: dict[str, Any], stream: bool) -> Outgoing:
        outgoing = {**body, "model": target.model, "stream": stream, "store": False}
        api_key = target.api_key()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return Outgoing(join(target.provider.base_url, "responses"), outgoing, headers)

    def native_answer(self, data: dict[str, Any], model: str) -> tuple[dict[str, Any], Usage]:
        return {**data, "model": model}, responses_usage(data.get("usage") or {})

    async def native_events(
        self, chunks: AsyncIterable[bytes], state: StreamState
    ) -> AsyncGenerator[dict[str, Any]]:
        async for data in sse_json(chunks):
            kind = data.get("type")
            if kind in ("response.completed", "response.incomplete"):
                state.usage = responses_usage((data.get("response") or {}).get("usage") or {})
            elif kind == "error":
                # Sent on by the writer's error event, and the call charged as broken off.
                raise StreamFailed(str(data.get("message") or "The provider's stream failed."))
            yield data

    def native_writer(self, state: StreamState) -> Writer:
        return NativeResponsesWriter(state)


def _refuse_state(body: dict[str, Any]) -> None:
    for name, instead in STATEFUL.items():
        if body.get(name):
            raise invalid(f"'{name}' is not offered: this gateway keeps no state; {instead}.", name)
    if body.get("store") is True:
        raise invalid(
            "'store': true is not offered: this gateway keeps no responses; "
            "send 'store': false or leave it out.",
            "store",
        )


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """`instructions` and `input` as chat messages; consecutive function calls are one turn."""
    if "input" not in body:
        raise invalid("'input' is required: a string or a list of input items.", "input")
    messages: list[dict[str, Any]] = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": str(body["instructions"])})
    items = body["input"]
    if isinstance(items, str):
        return [*messages, {"role": "user", "content": items}]
    for item in objects(items, "input"):
        _add_item(messages, item)
    if not messages:
        raise invalid("'input' holds no message.", "input")
    return messages


def _add_item(messages: list[dict[str, Any]], item: dict[str, Any]) -> None:
    kind = item.get("type", "message")
    if kind == "message":
        text_or_parts(item.get("content"), "input")
        role = item.get("role", "user")
        messages.append({"role": role, "content": _parts(item.get("content"))})
    elif kind == "function_call":
        call = {
            "id": item.get("call_id", ""),
            "type": "function",
            "function": {"name": item.get("name", ""), "arguments": item.get("arguments") or "{}"},
        }
        last = messages[-1] if messages else {}
        if last.get("role") == "assistant" and last.get("tool_calls") and not last.get("content"):
            last["tool_calls"].append(call)
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif kind == "function_call_output":
        output = item.get("output")
        content = output if isinstance(output, str) else text_of(_parts(output))
        messages.append(
            {"role": "tool", "tool_call_id": item.get("call_id", ""), "content": content}
        )
    elif kind != "reasoning":
        raise invalid(f"Input items of type '{kind}' are not offered.", "input")


def _parts(content: Any) -> Any:
    """Responses content parts as chat parts (input_text, output_text, input_image)."""
    if isinstance(content, str):
        return content
    parts = []
    for part in content or []:
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind == "input_image" and part.get("image_url"):
            image = {"url": part["image_url"], "detail": part.get("detail", "auto")}
            parts.append({"type": "image_url", "image_url": image})
        else:
            raise invalid(f"Content parts of type '{kind}' are not offered.", "input")
    return parts


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") != "function":
        raise invalid(
            f"Tools of type '{tool.get('type')}' are not offered: function tools only.", "tools"
        )
    function = {"name": tool.get("name", ""), "parameters": tool.get("parameters") or {}}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, str) and choice in CHOICES:
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name", "")}}
    raise invalid("'tool_choice' must be auto, none, required or a function.", "tool_choice")


def _response_format(fmt: dict[str, Any]) -> dict[str, Any]:
    if fmt["type"] == "json_object":
        return {"type": "json_object"}
    schema = {"name": fmt.get("name", "answer"), "schema": fmt.get("schema") or {}}
    if fmt.get("strict") is not None:
        schema["strict"] = fmt["strict"]
    return {"type": "json_schema", "json_schema": schema}


def responses_usage(usage: dict[str, Any]) -> Usage:
    """The Responses API's usage object as the core's."""
    return Usage(
        usage.get("input_tokens") or 0,
        usage.get("output_tokens") or 0,
        cache_read_tokens=(usage.get("input_tokens_details") or {}).get("cached_tokens") or 0,
        reasoning_tokens=(usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0,
    )


def usage_object(usage: Usage) -> dict[str, Any]:
    """The core's usage in the Responses API's shape."""
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


def response_object(
    model: str,
    output: list[dict[str, Any]],
    usage: Usage | None,
    *,
    finish: str | None,
    id: str = "",
    status: str = "",
) -> dict[str, Any]:
    """A `response` object; without usage, one still in progress."""
    status = status or STATUS.get(finish or "", "completed")
    return {
        "id": id or _id("resp"),
        "object": "response",
        "created_at": clock.now(),
        "status": status,
        "error": None,
        "incomplete_details": {"reason": INCOMPLETE.get(finish or "")}
        if status == "incomplete"
        else None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "store": False,
        "text": {"format": {"type": "text"}},
        "metadata": {},
        "usage": usage_object(usage) if usage is not None else None,
    }


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _message_item(id: str, text: str, status: str) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {
        "type": "message",
        "id": id,
        "status": status,
        "role": "assistant",
        "content": [part] if status == "completed" else [],
    }


def _call_item(call: dict[str, Any], status: str) -> dict[str, Any]:
    function = call.get("function") or {}
    return {
        "type": "function_call",
        "id": _id("fc"),
        "call_id": call.get("id") or _id("call"),
        "name": function.get("name", ""),
        "arguments": function.get("arguments") or "",
        "status": status,
    }


class ResponsesWriter(ChunkWriter):
    """The core's chunks as the Responses event stream: each output item added, its deltas,
    each item done, then response.completed with the usage."""

    def __init__(self, state: StreamState) -> None:
        super().__init__(state)
        self.id = _id("resp")
        self.sequence = 0
        self.items: list[dict[str, Any]] = []
        self.open: dict[str, Any] | None = None
        self.calls: dict[int, dict[str, Any]] = {}

    def emit(self, kind: str, **payload: Any) -> bytes:
        data = {"type": kind, "sequence_number": self.sequence, **payload}
        self.sequence += 1
        return named_event(kind, data)

    def end(self, usage: Usage) -> list[bytes]:
        events = self.start()
        events += self._close()
        done = response_object(
            self.state.model, list(self.items), usage, finish=self.state.finish_reason, id=self.id
        )
        kind = "response.incomplete" if done["status"] == "incomplete" else "response.completed"
        return [*events, self.emit(kind, response=done)]

    def error(self, message: str) -> list[bytes]:
        events = self.start()
        failed = response_object(self.state.model, self.items, None, finish=None, id=self.id)
        failed |= {"status": "failed", "error": {"code": "server_error", "message": message}}
        return [
            *events,
            self.emit("error", code="stream_failed", message=message, param=None),
            self.emit("response.failed", response=failed),
        ]

    def start(self) -> list[bytes]:
        if self.sequence:
            return []
        started = response_object(
            self.state.model, [], None, finish=None, id=self.id, status="in_progress"
        )
        return [
            self.emit("response.created", response=started),
            self.emit("response.in_progress", response=started),
        ]

    def text(self, text: str) -> list[bytes]:
        events = []
        message = self.open
        if message is None or message["type"] != "message":
            events += self._close()
            message = self.open = {**_message_item(_id("msg"), "", "in_progress"), "text": ""}
            events.append(self._added(message))
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            at = self._at(message)
            events.append(self.emit("response.content_part.added", **at, part=part))
        message["text"] += text
        events.append(
            self.emit("response.output_text.delta", **self._at(message), delta=text, logprobs=[])
        )
        return events

    def call(self, call: dict[str, Any]) -> list[bytes]:
        events = []
        index = call.get("index", 0)
        if call.get("id") or index not in self.calls:
            events += self._close()
            self.open = _call_item(
                {**call, "function": {**call.get("function", {}), "arguments": ""}}, "in_progress"
            )
            self.calls[index] = self.open
            events.append(self._added(self.open))
        arguments = (call.get("function") or {}).get("arguments") or ""
        if arguments and self.open is self.calls[index]:
            self.open["arguments"] += arguments
            where = {"item_id": self.open["id"], "output_index": len(self.items)}
            events.append(
                self.emit("response.function_call_arguments.delta", **where, delta=arguments)
            )
        return events

    def _added(self, item: dict[str, Any]) -> bytes:
        shown = {k: v for k, v in item.items() if k != "text"}
        return self.emit("response.output_item.added", output_index=len(self.items), item=shown)

    def _at(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"item_id": item["id"], "output_index": len(self.items), "content_index": 0}

    def _close(self) -> list[bytes]:
        """Finish the open item: its done events, and it joins the output."""
        item, self.open = self.open, None
        if item is None:
            return []
        where = {"item_id": item["id"], "output_index": len(self.items)}
        if item["type"] == "message":
            done = _message_item(item["id"], item["text"], "completed")
            part = done["content"][0]
            events = [
                self.emit(
                    "response.output_text.done",
                    **where,
                    content_index=0,
                    text=item["text"],
                    logprobs=[],
                ),
                self.emit("response.content_part.done", **where, content_index=0, part=part),
            ]
        else:
            done = {**item, "status": "completed"}
            events = [
                self.emit(
                    "response.function_call_arguments.done",
                    **where,
                    name=item["name"],
                    arguments=item["arguments"],
                )
            ]
        events.append(
            self.emit("response.output_item.done", output_index=len(self.items), item=done)
        )
        self.items.append(done)
        return events


class NativeResponsesWriter(Writer):
    """OpenAI's own Responses events, sent on as they came."""

    def write(self, item: dict[str, Any]) -> list[bytes]:
        if item.get("type") in (
            "response.output_text.delta",
            "response.function_call_arguments.delta",
        ):
            self.output.append(item.get("delta") or "")
        return [named_event(str(item.get("type", "")), item)]

    def error(self, message: str) -> list[bytes]:
        failure = {"type": "error", "code": "stream_failed", "message": message, "param": None}
        return [named_event("error", failure)]
