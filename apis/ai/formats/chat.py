"""The Chat Completions surface: the core's own shape, so reading and writing it is little."""

from __future__ import annotations

from typing import Any

from apis.ai.chat import StreamState, Usage
from apis.ai.formats import Format, Writer, invalid, json_object
from apis.ai.sse import DONE, event


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
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return ChatWriter(state, include_usage=include_usage)


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
