"""The contract of a provider adapter, and which adapter speaks for each provider kind.

An adapter is a module: its functions build the provider's call from a Chat Completions body
and read the provider's answer and stream back into Chat Completions shapes. The registry is
typed with the protocols, so a type checker holds each module to them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any, Protocol

from apis.ai import anthropic, gemini, mistral, ollama, openai
from apis.ai.chat import StreamState, Usage
from apis.ai.models import Provider
from apis.ai.outgoing import Outgoing


class ChatAdapter(Protocol):
    """Chat Completions to one provider's native chat call, and its answers back."""

    def build(
        self, *, base_url: str, api_key: str, model: str, body: dict[str, Any], stream: bool
    ) -> Outgoing:
        """The provider's call for the Chat Completions `body`."""
        ...

    def parse(self, data: dict[str, Any], *, model: str) -> tuple[dict[str, Any], Usage]:
        """The provider's answer as a chat.completion named after `model`, and its usage."""
        ...

    def stream(
        self, chunks: AsyncIterable[bytes], state: StreamState, *, include_usage: bool
    ) -> AsyncGenerator[dict[str, Any]]:
        """The provider's stream as chat.completion.chunk objects, its usage kept in `state`."""
        ...


class EmbeddingsAdapter(Protocol):
    """Texts to one provider's embeddings call, and its vectors back."""

    def embeddings_build(
        self, *, base_url: str, api_key: str, model: str, texts: list[str], dimensions: int | None
    ) -> Outgoing:
        """The provider's call embedding `texts`."""
        ...

    def embeddings_parse(self, data: dict[str, Any]) -> tuple[list[list[float]], Usage]:
        """The vectors in input order, and the tokens the provider counted."""
        ...


CHAT: dict[str, ChatAdapter] = {
    Provider.Kind.OPENAI: openai,
    Provider.Kind.MISTRAL: mistral,
    Provider.Kind.OPENAI_COMPATIBLE: openai,
    Provider.Kind.ANTHROPIC: anthropic,
    Provider.Kind.GEMINI: gemini,
    Provider.Kind.OLLAMA: ollama,
}

EMBEDDINGS: dict[str, EmbeddingsAdapter] = {
    Provider.Kind.OPENAI: openai,
    Provider.Kind.MISTRAL: mistral,
    Provider.Kind.OPENAI_COMPATIBLE: openai,
    Provider.Kind.GEMINI: gemini,
    Provider.Kind.OLLAMA: ollama,
}
