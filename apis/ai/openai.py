"""OpenAI and OpenAI-compatible providers: the native format is OpenAI's own."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any

from apis.ai.chat import StreamState, Usage, openai_usage
from apis.ai.outgoing import Outgoing, join
from apis.ai.sse import sse_json


def build(
    *, base_url: str, api_key: str, model: str, body: dict[str, Any], stream: bool
) -> Outgoing:
    """The chat completions request, with the provider's model and usage asked for."""
    outgoing = {**body, "model": model, "stream": stream}
    if stream:
        outgoing["stream_options"] = {"include_usage": True}
    else:
        outgoing.pop("stream_options", None)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return Outgoing(join(base_url, "chat/completions"), outgoing, headers)


def parse(data: dict[str, Any], *, model: str) -> tuple[dict[str, Any], Usage]:
    """The provider's answer as it is, named after the model used, and its usage."""
    return {**data, "model": model}, openai_usage(data.get("usage") or {})


async def stream(
    chunks: AsyncIterable[bytes], state: StreamState, *, include_usage: bool
) -> AsyncGenerator[dict[str, Any]]:
    """The provider's chunks, renamed; its usage kept and sent last, as OpenAI does.

    Mistral puts the usage on its closing chunk, OpenAI in a chunk of its own: clients get the
    latter either way.
    """
    async for chunk in sse_json(chunks):
        renamed = read_chunk(chunk, state)
        if renamed is not None:
            yield renamed
    if include_usage:
        yield state.usage_chunk()


def read_chunk(chunk: dict[str, Any], state: StreamState) -> dict[str, Any] | None:
    """One provider chunk, its usage taken into `state` and off the chunk, renamed after the
    model used; None for a chunk with no choices (the usage's own)."""
    usage = chunk.pop("usage", None)
    if usage:
        state.usage = openai_usage(usage)
    state.id = chunk.get("id") or state.id
    if not chunk.get("choices"):
        return None
    for choice in chunk["choices"]:
        state.finish_reason = choice.get("finish_reason") or state.finish_reason
    return {**chunk, "model": state.model}


def embeddings_build(
    *,
    base_url: str,
    api_key: str,
    model: str,
    texts: list[str],
    dimensions: int | None,
) -> Outgoing:
    """POST /embeddings with floats asked for."""
    body: dict[str, Any] = {"model": model, "input": texts, "encoding_format": "float"}
    if dimensions:
        body["dimensions"] = dimensions
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return Outgoing(join(base_url, "embeddings"), body, headers)


def embeddings_parse(data: dict[str, Any]) -> tuple[list[list[float]], Usage]:
    """The vectors in input order, and the tokens the provider counted."""
    rows = sorted(data.get("data") or [], key=lambda row: row.get("index", 0))
    return [row.get("embedding") or [] for row in rows], openai_usage(data.get("usage") or {})
