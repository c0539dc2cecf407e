"""The surfaces an `ai` API speaks, one format each, over the core's one representation.

A format reads its surface's request into a Chat Completions body (`apis.ai.chat`), writes the
core's chat.completion back in its own shape, and writes the core's chunks as its own stream.
A format whose surface a provider kind speaks itself (Responses for OpenAI, Messages for
Anthropic) passes the call through to that kind untranslated and only reads its usage.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any

from apis.ai.chat import StreamState, Usage
from apis.ai.outgoing import Outgoing
from apis.ai.targets import Target
from apis.gateway.errors import GatewayError

# Where an `ai` API answers, below /gw/<slug>: named by the portal and the MCP tool too.
SURFACE_PATHS = ("/chat/completions", "/responses", "/embeddings", "/v1/messages", "/models")


class Writer:
    """One stream in a surface's shape; it keeps the text it wrote, for counting tokens."""

    def __init__(self, state: StreamState) -> None:
        self.state = state
        self.output: list[str] = []

    def write(self, item: Any) -> list[bytes]:
        """The events for one item of the stream (a chunk, or a relay's events)."""
        raise NotImplementedError

    def end(self, usage: Usage) -> list[bytes]:
        """The closing events, once the provider's stream is over."""
        return []

    def error(self, message: str) -> list[bytes]:
        """The events that tell the client its stream failed after it had begun."""
        raise NotImplementedError

    def written(self) -> str:
        """The text and tool arguments written so far, for counting tokens."""
        return "".join(self.output)

    def note(self, chunk: dict[str, Any]) -> None:
        """Keep the text and tool arguments of a chat.completion.chunk."""
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            self.output.append(delta.get("content") or "")
            for call in delta.get("tool_calls") or []:
                function = call.get("function") or {}
                self.output.append((function.get("name") or "") + (function.get("arguments") or ""))


class ChunkWriter(Writer):
    """A writer of the core's chunks: each text and tool-call delta becomes its own events."""

    def write(self, item: dict[str, Any]) -> list[bytes]:
        self.note(item)
        events = self.start()
        for choice in item.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                events += self.text(delta["content"])
            for call in delta.get("tool_calls") or []:
                events += self.call(call)
            self.state.finish_reason = choice.get("finish_reason") or self.state.finish_reason
        return events

    def start(self) -> list[bytes]:
        """The opening events, before the first item only."""
        raise NotImplementedError

    def text(self, text: str) -> list[bytes]:
        """The events for a piece of text."""
        raise NotImplementedError

    def call(self, call: dict[str, Any]) -> list[bytes]:
        """The events for a piece of a tool call."""
        raise NotImplementedError


class Format:
    """One surface; `native_kind` names the provider kind that speaks it itself, if any."""

    name = ""
    native_kind = ""
    # Where the surface's own request names its output maximum, when it may leave it out.
    max_output_field = ""

    def request(self, body: Any) -> dict[str, Any]:
        """The client's request as a Chat Completions body, or 400 saying what is wrong."""
        raise NotImplementedError

    def answer(self, answer: dict[str, Any], usage: Usage) -> dict[str, Any]:
        """A chat.completion in this surface's shape."""
        raise NotImplementedError

    def writer(self, state: StreamState, body: dict[str, Any]) -> Writer:
        """The writer of a translated stream."""
        raise NotImplementedError

    def relay(self, target: Target, state: StreamState, body: dict[str, Any]) -> Writer | None:
        """For a provider whose stream is already in this surface's shape, the writer that
        passes its events on (each item: the data of the events one read completed); else
        None."""
        return None

    def native_build(self, target: Target, body: dict[str, Any], stream: bool) -> Outgoing:
        """The client's own request, for a provider that speaks this surface."""
        raise NotImplementedError

    def native_answer(self, data: dict[str, Any], model: str) -> tuple[dict[str, Any], Usage]:
        """A native answer named after the model used, and its usage."""
        raise NotImplementedError

    def native_events(
        self, chunks: AsyncIterable[bytes], state: StreamState
    ) -> AsyncGenerator[dict[str, Any]]:
        """A native stream's events as they are, their usage kept in the state."""
        raise NotImplementedError

    def native_writer(self, state: StreamState) -> Writer:
        """The writer of a native stream: each event sent on as it came."""
        raise NotImplementedError

    def is_native(self, target: Target) -> bool:
        """Whether the target's provider speaks this surface itself."""
        return bool(self.native_kind) and target.provider.kind == self.native_kind


def invalid(message: str, param: str = "") -> GatewayError:
    """A request this surface cannot take, as the SDKs' invalid-request error."""
    extra: dict[str, Any] = {"param": param} if param else {}
    return GatewayError(400, "Invalid request", message, code="invalid_request", **extra)


def json_object(body: Any) -> dict[str, Any]:
    """The body, which must be a JSON object."""
    if not isinstance(body, dict):
        raise invalid("The body must be a JSON object.")
    return body


def objects(value: Any, param: str) -> list[dict[str, Any]]:
    """The value, which must be a list of JSON objects."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise invalid(f"'{param}' must be a list of objects.", param)
    return value


def kept(body: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The fields of the body that the core takes under the same names."""
    return {name: body[name] for name in names if body.get(name) is not None}


def text_or_parts(value: Any, param: str) -> None:
    """Refuse content that is neither a string nor a list of objects."""
    if isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(p, dict) for p in value)
    ):
        return
    raise invalid(f"'{param}' must be a string or a list of content parts.", param)
