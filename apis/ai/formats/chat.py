"""The Chat Completions surface: the core's own shape, so reading and writing it is little."""

from __future__ import annotations

import json
from typing import Any

from apis.ai import openai
from apis.ai.chat import StreamState, Usage
from apis.ai.formats import Format, Writer, invalid, json_object
from apis.ai.sse import DONE, decoded, event
from apis.ai.targets import Target

# Read in full once this much of a relayed stream's text waits unread (memory per stream).
UNREAD_LIMIT = 64 * 1024
MODEL_FIELD = b'"model":"'
# OpenAI's `stream_options.include_usage` puts this on every chunk but the usage's own.
NO_USAGE = (b',"usage":null', b'"usage":null,')


class Chat(Format):
    """POST /chat/completions; OpenAI, Mistral and compatible providers get it as it is."""

    name = "chat"

    def request(self, body: Any) -> dict[str, Any]:
        body = json_object(body)
        messages = body.get("messages")
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, dict) for m in messages)
        ):
            raise invalid("'messages' must be a non-empty list of messages.", "messages")
        return body

    def answer(self, answer: dict[str, Any], usage: Usage) -> dict[str, Any]:
        # The provider's own usage object is kept (it may hold details the core does not).
        return {**answer, "usage": usage.as_openai()} if usage.estimated else answer

    def writer(self, state: StreamState, body: dict[str, Any]) -> Writer:
        return ChatWriter(state, include_usage=_includes_usage(body))

    def relay(self, target: Target, state: StreamState, body: dict[str, Any]) -> Writer | None:
        # Providers whose streams the OpenAI adapter reads send chat.completion.chunk events.
        if target.adapter.stream is not openai.stream:
            return None
        return ChatRelay(state, include_usage=_includes_usage(body))


def _includes_usage(body: dict[str, Any]) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))


class ChatWriter(Writer):
    """chat.completion.chunk events, the usage chunk last when the client asked for it."""

    def __init__(self, state: StreamState, *, include_usage: bool) -> None:
        super().__init__(state)
        self.include_usage = include_usage

    def write(self, item: dict[str, Any]) -> list[bytes]:
        self.note(item)
        return [event(item)]

    def end(self, usage: Usage) -> list[bytes]:
        self.state.usage = usage
        return [event(self.state.usage_chunk()), DONE] if self.include_usage else [DONE]

    def error(self, message: str) -> list[bytes]:
        # OpenAI's SDKs read an `error` event as a failure.
        failure = {"error": {"message": message, "type": "api_error", "code": "stream_failed"}}
        return [event(failure), DONE]


class ChatRelay(ChatWriter):
    """An OpenAI-format provider's chunks passed on as it wrote them, the model renamed: what
    one read of its stream completes goes out as one piece.

    A chunk in OpenAI's own layout (one `"model":"…"`, choices, `"usage":null` or no usage) has
    its model rewritten in place and its usage field dropped, unparsed; any other chunk (the
    first, whose id the closing usage chunk takes, the usage's own, one laid out otherwise) is
    read in full, as the OpenAI adapter reads it. The text of the chunks passed on is read only
    to count it (when the provider's count never comes), in one parse, or when much of it waits.
    """

    def __init__(self, state: StreamState, *, include_usage: bool) -> None:
        super().__init__(state, include_usage=include_usage)
        self.model_field = b'"model":' + json.dumps(state.model).encode()
        self.unread: list[bytes] = []
        self.unread_size = 0
        self.started = False

    def write(self, item: Any) -> list[bytes]:
        # The item is the data of the events one read completed (apis.ai.sse.sse_batches).
        pieces = []
        for data in item:
            relayed = self._relayed(data) if self.started else None
            if relayed is not None:
                pieces.append(b"data: " + relayed + b"\n\n")
                self._keep_unread(relayed)
                continue
            chunk = openai.read_chunk(json.loads(decoded(data)), self.state)
            self.started = True
            if chunk is not None:
                self.note(chunk)
                pieces.append(event(chunk))
        return [b"".join(pieces)] if pieces else []

    def written(self) -> str:
        self._read_unread()
        return super().written()

    def _relayed(self, data: bytes) -> bytes | None:
        """The chunk with its model renamed and no usage, or None when it is not laid out as
        OpenAI writes its chunks. Inside a JSON string every quote is escaped, so the field
        names matched here are the chunk's own."""
        if b'"choices":[{' not in data:
            return None
        bare = _without_usage(data) if b'"usage"' in data else data
        if bare is None:
            return None
        data = bare
        start = data.find(MODEL_FIELD)
        if start < 0 or data.find(MODEL_FIELD, start + 1) >= 0:
            return None
        end = data.find(b'"', start + len(MODEL_FIELD))
        if end < 0 or b"\\" in data[start:end]:
            return None
        return data[:start] + self.model_field + data[end + 1 :]

    def _keep_unread(self, data: bytes) -> None:
        self.unread.append(data)
        self.unread_size += len(data)
        if self.unread_size > UNREAD_LIMIT:
            self._read_unread()

    def _read_unread(self) -> None:
        """Note the text of the chunks passed on unparsed: in one parse, or one by one when
        the provider sent one that is not JSON (passed on as it came, it counts for nothing)."""
        if not self.unread:
            return
        unread, self.unread, self.unread_size = self.unread, [], 0
        try:
            chunks = json.loads(decoded(b"[" + b",".join(unread) + b"]"))
        except ValueError:
            chunks = [_parsed(data) for data in unread]
        for chunk in chunks:
            if isinstance(chunk, dict):
                self.note(chunk)


def _parsed(data: bytes) -> Any:
    try:
        return json.loads(decoded(data))
    except ValueError:
        return None


def _without_usage(data: bytes) -> bytes | None:
    """The chunk without its `"usage":null`, or None when it has another usage (or another
    layout of it)."""
    if data.count(b'"usage"') != 1:
        return None
    for field in NO_USAGE:
        if field in data:
            return data.replace(field, b"", 1)
    return None
