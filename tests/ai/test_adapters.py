"""Adapters: requests translated to each provider's format, fakes checked by the SDKs' parsers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from decimal import Decimal
from typing import Any

import anthropic.types
import httpx
import openai.types.chat
import pytest
from asgiref.sync import async_to_sync
from pydantic import TypeAdapter

from apis.ai import anthropic as anthropic_adapter
from apis.ai import gemini, mistral, ollama
from apis.ai import openai as openai_adapter
from apis.ai.adapters import ChatAdapter
from apis.ai.chat import StreamFailed, StreamState, Usage
from apis.ai.models import Provider, ProviderModel
from apis.ai.prices import call_cost
from apis.ai.sse import sse_json
from tests.ai.fakes import (
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    STREAMS,
    WORDS,
    Behaviour,
    FakeProvider,
)

IMAGE = "data:image/png;base64,iVBORw0KGgo="
REQUEST = {
    "model": "whatever",
    "messages": [
        {"role": "developer", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": IMAGE}},
            ],
        },
    ],
    "temperature": 0.2,
    "max_completion_tokens": 64,
    "stop": "END",
    "seed": 7,
}


async def _lines(lines: Iterable[str]) -> AsyncIterator[bytes]:
    """The lines as a provider's body, one read per line."""
    for line in lines:
        yield f"{line}\n".encode()


@async_to_sync
async def _collected(items: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in items]


def sse_events(text: str) -> list[dict[str, Any]]:
    """The JSON events of a server-sent event stream, read by the gateway's own reader."""
    return _collected(sse_json(_lines(text.splitlines())))


def translated(adapter, lines: list[str], **state: Any) -> list[dict[str, Any]]:
    """An adapter's translation of a provider's stream, as OpenAI chunks."""
    chunks = adapter.stream(_lines(lines), StreamState(model="p/m", **state), include_usage=True)
    return _collected(chunks)


def build(adapter: ChatAdapter, body=REQUEST, stream: bool = False):
    return adapter.build(base_url="http://p", api_key="key", model="m", body=body, stream=stream)


def test_anthropic_request_puts_system_apart_and_requires_max_tokens():
    sent = build(anthropic_adapter)

    assert sent.url == "http://p/v1/messages"
    assert sent.headers == {"anthropic-version": "2023-06-01", "x-api-key": "key"}
    assert sent.body["system"] == "Be brief."
    assert sent.body["max_tokens"] == 64
    assert sent.body["stop_sequences"] == ["END"]
    image = sent.body["messages"][0]["content"][1]
    assert image["source"] == {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
    assert (
        build(anthropic_adapter, {"messages": [{"role": "user", "content": "hi"}]}).body[
            "max_tokens"
        ]
        == anthropic_adapter.DEFAULT_MAX_TOKENS
    )


def test_gemini_request_uses_contents_parts_and_generation_config():
    sent = build(gemini, stream=True)

    assert sent.url == "http://p/v1beta/models/m:streamGenerateContent?alt=sse"
    assert sent.headers == {"x-goog-api-key": "key"}
    assert sent.body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent.body["contents"][0]["parts"][1] == {
        "inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}
    }
    assert sent.body["generationConfig"] == {
        "temperature": 0.2,
        "seed": 7,
        "maxOutputTokens": 64,
        "stopSequences": ["END"],
    }


def test_ollama_request_moves_sampling_into_options():
    sent = build(ollama, {**REQUEST, "response_format": {"type": "json_object"}})

    assert sent.url == "http://p/api/chat"
    assert sent.body["options"] == {
        "temperature": 0.2,
        "seed": 7,
        "num_predict": 64,
        "stop": ["END"],
    }
    assert sent.body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent.body["messages"][1]["images"] == ["iVBORw0KGgo="]
    assert sent.body["format"] == "json"
    assert sent.body["stream"] is False


def test_mistral_request_uses_its_own_names():
    sent = build(mistral, stream=True)

    assert sent.body["max_tokens"] == 64 and "max_completion_tokens" not in sent.body
    assert sent.body["random_seed"] == 7 and "seed" not in sent.body
    assert "stream_options" not in sent.body
    assert sent.body["messages"][0]["role"] == "system"


def test_openai_stream_asks_for_usage_even_when_the_client_did_not():
    sent = build(openai_adapter, stream=True)

    assert sent.url == "http://p/chat/completions"
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.headers == {"Authorization": "Bearer key"}


def _post(fake: FakeProvider, path: str, body: dict) -> httpx.Response:
    return httpx.post(fake.root + path, json=body)


@pytest.mark.parametrize("model", ["ok-model", "tool-model"])
def test_openai_fake_speaks_what_the_openai_sdk_parses(model):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    with FakeProvider("openai") as fake:
        answer = _post(fake, "/v1/chat/completions", body).json()
        stream = _post(fake, "/v1/chat/completions", {**body, "stream": True})

    openai.types.chat.ChatCompletion.model_validate(answer, strict=False)
    for chunk in sse_events(stream.text):
        openai.types.chat.ChatCompletionChunk.model_validate(chunk)


@pytest.mark.parametrize("model", ["ok-model", "tool-model"])
def test_anthropic_fake_speaks_what_the_anthropic_sdk_parses(model):
    body = {"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    with FakeProvider("anthropic") as fake:
        answer = _post(fake, "/v1/messages", body).json()
        stream = _post(fake, "/v1/messages", {**body, "stream": True})
        error = _post(fake, "/v1/messages", {**body, "model": "error-429"}).json()

    anthropic.types.Message.model_validate(answer)
    events = TypeAdapter(anthropic.types.RawMessageStreamEvent)
    for event in sse_events(stream.text):
        if event["type"] != "ping":
            events.validate_python(event)
    anthropic.types.ErrorResponse.model_validate(error)


def test_anthropic_stream_error_event_becomes_an_openai_error_event():
    lines = [
        "event: error",
        'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
        "",
    ]
    with pytest.raises(StreamFailed, match="Overloaded"):
        translated(anthropic_adapter, lines)


STREAMING = {
    "openai": (openai_adapter, "openai"),
    "mistral": (mistral, "openai"),
    "anthropic": (anthropic_adapter, "anthropic"),
    "gemini": (gemini, "gemini"),
    "ollama": (ollama, "ollama"),
}


@pytest.mark.parametrize("flavour", STREAMING)
def test_every_adapter_translates_its_providers_stream_into_openai_chunks(flavour):
    adapter, wire = STREAMING[flavour]
    sent = b"".join(STREAMS[wire](Behaviour("ok-model", retried=False), flavour)).decode()

    chunks = translated(adapter, sent.splitlines())

    for chunk in chunks:
        openai.types.chat.ChatCompletionChunk.model_validate(chunk)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1]) == "".join(
        WORDS
    )
    assert chunks[-1]["usage"] == {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    }


def test_gemini_answer_translates_usage_and_finish_reason():
    data = {
        "candidates": [
            {"content": {"parts": [{"text": "Hi"}], "role": "model"}, "finishReason": "MAX_TOKENS"}
        ],
        "usageMetadata": {
            "promptTokenCount": 3,
            "candidatesTokenCount": 4,
            "thoughtsTokenCount": 2,
        },
    }

    answer, usage = gemini.parse(data, model="g/m")

    assert answer["choices"][0]["finish_reason"] == "length"
    assert (usage.prompt_tokens, usage.completion_tokens) == (3, 6)
    openai.types.chat.ChatCompletion.model_validate(answer)


@pytest.mark.django_db
def test_own_prices_win_over_the_price_table():
    provider = Provider.objects.create(
        name="oa", kind="openai", base_url="https://api.openai.com/v1"
    )
    own = ProviderModel.objects.create(
        provider=provider, name="gpt-4o", input_cost_per_mtok=1, output_cost_per_mtok=2
    )

    cost = call_cost(
        provider=provider, model="gpt-4o", prices=own, usage=Usage(1_000_000, 1_000_000)
    )

    assert cost == Decimal(3)


@pytest.mark.django_db
def test_model_without_prices_takes_them_from_genai_prices():
    provider = Provider.objects.create(
        name="oa", kind="openai", base_url="https://api.openai.com/v1"
    )

    cost = call_cost(
        provider=provider, model="gpt-4o", prices=None, usage=Usage(1_000_000, 1_000_000)
    )

    assert cost > 0


@pytest.mark.django_db
def test_unknown_model_costs_nothing_rather_than_failing():
    provider = Provider.objects.create(
        name="local", kind="ollama", base_url="http://127.0.0.1:11434"
    )

    assert call_cost(provider=provider, model="my-llama", prices=None, usage=Usage(10, 10)) == 0


def test_fake_error_bodies_are_read_for_every_provider():
    from apis.ai.outgoing import error_text

    for kind, path in [
        ("openai", "/v1/chat/completions"),
        ("gemini", "/v1beta/models/error-404:generateContent"),
        ("ollama", "/api/chat"),
    ]:
        with FakeProvider(kind) as fake:
            data = _post(fake, path, {"model": "error-404", "messages": []}).json()
        assert error_text(data)[0] == "Fake refusal 404", json.dumps(data)
