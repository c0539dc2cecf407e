"""The translation core's one representation: OpenAI Chat Completions shapes.

Every surface (`apis.ai.formats`) turns its request into a Chat Completions body, every
provider adapter (`apis.ai.openai`, `mistral`, `anthropic`, `gemini`, `ollama`) turns that body
into its provider's call and the provider's answer back into a chat.completion and its Usage, or its
stream into chat.completion.chunk objects and a StreamState; each surface then writes those in
its own shape. Adding a provider kind is one adapter; adding a surface is one format.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from core.clock import clock

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter"})


@dataclass
class Usage:
    """Token counts as the provider reported them, or as counted here when it did not.

    `prompt_tokens` is all input, cache reads and writes included; `completion_tokens` is all
    output, reasoning included: the parts are priced apart, the totals are what quotas count.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    # Counted with the offline tokenizer: the provider's own count never arrived.
    estimated: bool = False

    @property
    def reported(self) -> bool:
        """Whether any count is known."""
        return bool(self.prompt_tokens or self.completion_tokens)

    def as_openai(self) -> dict[str, Any]:
        """OpenAI's usage object, with the cached and reasoning parts when there are any."""
        total = self.prompt_tokens + self.completion_tokens
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": total,
        }
        if self.cache_read_tokens:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cache_read_tokens}
        if self.reasoning_tokens:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return usage


def openai_usage(usage: dict[str, Any]) -> Usage:
    """OpenAI's (and Mistral's) usage object, its cached and reasoning details included."""
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return Usage(
        usage.get("prompt_tokens") or 0,
        usage.get("completion_tokens") or 0,
        cache_read_tokens=cached,
        reasoning_tokens=reasoning,
    )


@dataclass
class StreamState:
    """What a stream translation learns on the way: id, usage, finish reason."""

    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=clock.now)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        """One chat.completion.chunk with a single choice."""
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return {**self._head(), "choices": [choice]}

    def usage_chunk(self) -> dict[str, Any]:
        """The closing chunk of `stream_options.include_usage`: no choices, the usage."""
        return {**self._head(), "choices": [], "usage": self.usage.as_openai()}

    def _head(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }


def completion(
    *,
    model: str,
    content: str | None,
    tool_calls: list[dict[str, Any]],
    finish_reason: str,
    usage: Usage,
    id: str = "",
) -> dict[str, Any]:
    """A complete chat.completion object with one choice."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": id or f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": clock.now(),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": usage.as_openai(),
    }


def tool_call(id: str, name: str, arguments: Any) -> dict[str, Any]:
    """One OpenAI tool call; arguments always as a JSON string."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": id, "type": "function", "function": {"name": name, "arguments": text}}


def text_of(content: Any) -> str:
    """The text of a message's content, whether a string or a list of parts."""
    if isinstance(content, str):
        return content
    parts = content or []
    return "".join(
        p.get("text", "") for p in parts if isinstance(p, dict) and p.get("type") == "text"
    )


def parts_of(content: Any) -> list[dict[str, Any]]:
    """A message's content as a list of parts."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [p for p in content or [] if isinstance(p, dict)]


def max_tokens(body: dict[str, Any]) -> int | None:
    """The output-token cap under either of OpenAI's names."""
    return body.get("max_completion_tokens") or body.get("max_tokens")


def stops(body: dict[str, Any]) -> list[str]:
    """`stop` as a list."""
    stop = body.get("stop")
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else list(stop)


def data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a `data:` URL, else None."""
    if not url.startswith("data:") or ";base64," not in url:
        return None
    head, _, data = url.partition(";base64,")
    return head.removeprefix("data:"), data


def wants_json(body: dict[str, Any]) -> bool:
    """Whether the client asked for a JSON answer through response_format."""
    return (body.get("response_format") or {}).get("type") in ("json_object", "json_schema")


def json_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of a `json_schema` response_format, if any."""
    fmt = body.get("response_format") or {}
    return (
        (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
    )


class StreamFailed(Exception):
    """The provider reported an error after its stream had begun."""
