"""Mistral: OpenAI's format under Mistral's own names for a few fields and tool-call ids."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from apis.ai import openai
from apis.ai.outgoing import Outgoing, join

# Answers and streams are OpenAI's (the usage rides on the closing chunk, which openai reads).
parse = openai.parse
stream = openai.stream
embeddings_parse = openai.embeddings_parse

# Fields Mistral's strict schema refuses, or knows under another name.
MISTRAL_RENAMES = {"max_completion_tokens": "max_tokens", "seed": "random_seed"}
MISTRAL_DROPPED = frozenset({"stream_options", "user", "store", "metadata", "logprobs"})


def build(
    *, base_url: str, api_key: str, model: str, body: dict[str, Any], stream: bool
) -> Outgoing:
    """OpenAI's chat completions request, in Mistral's names."""
    outgoing = openai.build(
        base_url=base_url, api_key=api_key, model=model, body=body, stream=stream
    )
    return replace(outgoing, body=mistral_body(outgoing.body))


def mistral_body(body: dict[str, Any]) -> dict[str, Any]:
    """Mistral's names for OpenAI's fields, and tool-call ids it accepts."""
    renamed = {MISTRAL_RENAMES.get(k, k): v for k, v in body.items() if k not in MISTRAL_DROPPED}
    renamed["messages"] = [_mistral_message(m) for m in body.get("messages", [])]
    return renamed


def mistral_tool_id(openai_id: str) -> str:
    """Mistral wants tool-call ids of exactly nine letters or digits; map others stably."""
    if len(openai_id) == 9 and openai_id.isascii() and openai_id.isalnum():
        return openai_id
    digest = hashlib.sha256(openai_id.encode()).hexdigest()
    return digest[:9]


def _mistral_message(message: dict[str, Any]) -> dict[str, Any]:
    message = {
        **message,
        "role": "system" if message.get("role") == "developer" else message.get("role"),
    }
    if message.get("tool_call_id"):
        message["tool_call_id"] = mistral_tool_id(message["tool_call_id"])
    if message.get("tool_calls"):
        message["tool_calls"] = [
            {**call, "id": mistral_tool_id(call.get("id", ""))} for call in message["tool_calls"]
        ]
    return message


def embeddings_build(
    *, base_url: str, api_key: str, model: str, texts: list[str], dimensions: int | None
) -> Outgoing:
    """POST /embeddings; Mistral names the dimensions its own way."""
    body: dict[str, Any] = {"model": model, "input": texts}
    if dimensions:
        body["output_dimension"] = dimensions
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return Outgoing(join(base_url, "embeddings"), body, headers)
