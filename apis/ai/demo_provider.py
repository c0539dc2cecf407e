"""The demo AI provider under /demo-upstream/v1/: a deterministic echo model (chat and
embeddings), in OpenAI's format."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from apis.ai.chat import StreamState, Usage, completion, text_of
from apis.ai.sse import DONE, event

MODEL = "echo-1"
# The size of the demo's embeddings: one per byte of a SHA-256 digest.
DIMENSIONS = 32


@require_GET
def models(request: HttpRequest) -> JsonResponse:
    """The one model the demo provider offers."""
    return JsonResponse({"object": "list", "data": [_model_entry()]})


@csrf_exempt
@require_POST
def chat_completions(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """Echo the last user message back, as JSON when the caller asked for JSON."""
    try:
        body = json.loads(request.body or b"null")
        messages = body["messages"]
        answer = echo_answer(messages, json_mode=_wants_json(body))
    except (ValueError, KeyError, TypeError):
        return _error(400, "Send a JSON object with a 'messages' list.")
    usage = Usage(_words(m.get("content") for m in messages), len(answer.split()))
    if body.get("stream"):
        include = bool((body.get("stream_options") or {}).get("include_usage"))
        stream = _stream(answer, StreamState(model=MODEL, usage=usage), include_usage=include)
        return StreamingHttpResponse(stream, content_type="text/event-stream")
    reply = completion(
        model=MODEL, content=answer, tool_calls=[], finish_reason="stop", usage=usage
    )
    return JsonResponse(reply)


@csrf_exempt
@require_POST
def embeddings(request: HttpRequest) -> HttpResponse:
    """A deterministic vector per text, from its digest: the same text, the same vector."""
    try:
        body = json.loads(request.body or b"null")
        texts = [body["input"]] if isinstance(body["input"], str) else list(body["input"])
        size = int(body.get("dimensions") or DIMENSIONS)
    except (ValueError, KeyError, TypeError):
        return _error(400, "Send a JSON object with an 'input' string or list.")
    if not 0 < size <= DIMENSIONS:
        return _error(400, f"'dimensions' must be from 1 to {DIMENSIONS}.")
    data = [
        {"object": "embedding", "index": i, "embedding": _vector(str(text), size)}
        for i, text in enumerate(texts)
    ]
    tokens = _words(texts)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return JsonResponse({"object": "list", "data": data, "model": MODEL, "usage": usage})


def _vector(text: str, size: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round(byte / 255 - 0.5, 4) for byte in digest[:size]]


def echo_answer(messages: list[dict[str, Any]], *, json_mode: bool) -> str:
    """What the echo model says: the last user text, wrapped in JSON in JSON mode."""
    last = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    text = text_of(last.get("content"))
    return json.dumps({"echo": text}) if json_mode else f"Echo: {text}"


async def _stream(answer: str, state: StreamState, *, include_usage: bool) -> AsyncIterator[bytes]:
    # Asynchronous: under ASGI, Django would hand a synchronous iterator to a thread per chunk.
    yield event(state.chunk({"role": "assistant", "content": ""}))
    for index, word in enumerate(answer.split(" ")):
        yield event(state.chunk({"content": word if index == 0 else f" {word}"}))
    yield event(state.chunk({}, "stop"))
    if include_usage:
        yield event(state.usage_chunk())
    yield DONE


def _wants_json(body: dict[str, Any]) -> bool:
    return (body.get("response_format") or {}).get("type") in ("json_object", "json_schema")


def _words(contents: Any) -> int:
    return sum(len(text_of(c).split()) for c in contents)


def _model_entry() -> dict[str, Any]:
    return {"id": MODEL, "object": "model", "created": int(time.time()), "owned_by": "portcullis"}


def _error(status: int, message: str) -> JsonResponse:
    payload = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    return JsonResponse(payload, status=status)


urlpatterns = [
    path("models", models, name="demo-ai-models"),
    path("chat/completions", chat_completions, name="demo-ai-chat"),
    path("embeddings", embeddings, name="demo-ai-embeddings"),
]
