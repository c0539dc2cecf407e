"""Google Gemini generateContent / streamGenerateContent, translated to and from OpenAI's."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any

from apis.ai import chat
from apis.ai.chat import StreamState, Usage
from apis.ai.outgoing import Outgoing, join
from apis.ai.sse import sse_json

FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter"}
FINISH |= {"RECITATION": "content_filter", "PROHIBITED_CONTENT": "content_filter"}
CHOICE_MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}


def build(
    *, base_url: str, api_key: str, model: str, body: dict[str, Any], stream: bool
) -> Outgoing:
    """POST /v1beta/models/<model>:generateContent (or :streamGenerateContent?alt=sse)."""
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    messages = body.get("messages", [])
    outgoing: dict[str, Any] = {"contents": _contents(messages)}
    system = [
        chat.text_of(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
    ]
    if any(system):
        outgoing["systemInstruction"] = {"parts": [{"text": t} for t in system if t]}
    if body.get("tools"):
        declarations = [_declaration(t["function"]) for t in body["tools"] if t.get("function")]
        outgoing["tools"] = [{"functionDeclarations": declarations}]
        if body.get("tool_choice"):
            outgoing["toolConfig"] = {"functionCallingConfig": _tool_choice(body["tool_choice"])}
    config = _generation_config(body)
    if config:
        outgoing["generationConfig"] = config
    headers = {"x-goog-api-key": api_key} if api_key else {}
    return Outgoing(join(base_url, f"v1beta/models/{model}:{method}"), outgoing, headers)


def _declaration(function: dict[str, Any]) -> dict[str, Any]:
    declaration = {"name": function["name"], "description": function.get("description", "")}
    if function.get("parameters"):
        declaration["parametersJsonSchema"] = function["parameters"]
    return declaration


def _tool_choice(choice: Any) -> dict[str, Any]:
    if isinstance(choice, dict):
        return {"mode": "ANY", "allowedFunctionNames": [choice.get("function", {}).get("name", "")]}
    return {"mode": CHOICE_MODES.get(choice, "AUTO")}


def _generation_config(body: dict[str, Any]) -> dict[str, Any]:
    names = {"temperature": "temperature", "top_p": "topP", "seed": "seed"}
    config = {names[k]: body[k] for k in names if body.get(k) is not None}
    if chat.max_tokens(body):
        config["maxOutputTokens"] = chat.max_tokens(body)
    if chat.stops(body):
        config["stopSequences"] = chat.stops(body)
    if chat.wants_json(body):
        config["responseMimeType"] = "application/json"
    if chat.json_schema(body):
        config["responseJsonSchema"] = chat.json_schema(body)
    return config


def _contents(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """user/model turns; a tool result names its function, found through the call's id."""
    names = {
        call.get("id"): call.get("function", {}).get("name", "")
        for m in messages
        for call in m.get("tool_calls") or []
    }
    contents: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            continue
        gemini_role = "model" if role == "assistant" else "user"
        parts = _parts(message, names)
        if contents and contents[-1]["role"] == gemini_role and role == "tool":
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": gemini_role, "parts": parts})
    return contents


def _parts(message: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    if message.get("role") == "tool":
        name = names.get(str(message.get("tool_call_id")), "")
        result = {"result": chat.text_of(message.get("content"))}
        return [{"functionResponse": {"name": name, "response": result}}]
    parts = [p for p in (_part(p) for p in chat.parts_of(message.get("content"))) if p]
    for call in message.get("tool_calls") or []:
        function = call.get("function", {})
        args = json.loads(function.get("arguments") or "{}")
        parts.append({"functionCall": {"name": function.get("name", ""), "args": args}})
    return parts


def _part(part: dict[str, Any]) -> dict[str, Any] | None:
    if part.get("type") == "text":
        return {"text": part.get("text", "")} if part.get("text") else None
    if part.get("type") == "image_url":
        url = (part.get("image_url") or {}).get("url", "")
        inline = chat.data_url(url)
        if inline:
            return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
        return {"fileData": {"fileUri": url}}
    return None


def parse(data: dict[str, Any], *, model: str) -> tuple[dict[str, Any], Usage]:
    """A GenerateContentResponse as a chat.completion."""
    candidate = (data.get("candidates") or [{}])[0]
    parts = (candidate.get("content") or {}).get("parts") or []
    texts = [p["text"] for p in parts if "text" in p and not p.get("thought")]
    calls = [_call(p["functionCall"]) for p in parts if "functionCall" in p]
    usage = _usage(data.get("usageMetadata") or {})
    answer = chat.completion(
        model=model,
        content="".join(texts) if texts or not calls else None,
        tool_calls=calls,
        finish_reason="tool_calls"
        if calls
        else FINISH.get(candidate.get("finishReason", ""), "stop"),
        usage=usage,
        id=data.get("responseId", ""),
    )
    return answer, usage


def _call(function_call: dict[str, Any]) -> dict[str, Any]:
    # Gemini's calls carry an id only in some versions; OpenAI clients need one to answer.
    call_id = function_call.get("id") or f"call_{uuid.uuid4().hex[:24]}"
    return chat.tool_call(call_id, function_call.get("name", ""), function_call.get("args") or {})


def _usage(metadata: dict[str, Any]) -> Usage:
    thoughts = metadata.get("thoughtsTokenCount") or 0
    return Usage(
        metadata.get("promptTokenCount") or 0,
        (metadata.get("candidatesTokenCount") or 0) + thoughts,
        cache_read_tokens=metadata.get("cachedContentTokenCount") or 0,
        reasoning_tokens=thoughts,
    )


async def stream(
    chunks: AsyncIterable[bytes], state: StreamState, *, include_usage: bool
) -> AsyncGenerator[dict[str, Any]]:
    """Each streamed GenerateContentResponse as chunks; the last usageMetadata counts."""
    first, calls = True, 0
    async for data in sse_json(chunks):
        if data.get("usageMetadata"):
            state.usage = _usage(data["usageMetadata"])
        candidate = (data.get("candidates") or [{}])[0]
        delta: dict[str, Any] = {"role": "assistant"} if first else {}
        first = False
        for part in (candidate.get("content") or {}).get("parts") or []:
            if "text" in part and not part.get("thought"):
                delta["content"] = delta.get("content", "") + part["text"]
            elif "functionCall" in part:
                delta.setdefault("tool_calls", []).append(
                    {"index": calls, **_call(part["functionCall"])}
                )
                calls += 1
        if delta:
            yield state.chunk(delta)
        if candidate.get("finishReason"):
            state.finish_reason = (
                "tool_calls" if calls else FINISH.get(candidate["finishReason"], "stop")
            )
    yield state.chunk({}, state.finish_reason or "stop")
    if include_usage:
        yield state.usage_chunk()


def embeddings_build(
    *,
    base_url: str,
    api_key: str,
    model: str,
    texts: list[str],
    dimensions: int | None,
) -> Outgoing:
    """POST /v1beta/models/<model>:batchEmbedContents, one request per text."""
    extra = {"outputDimensionality": dimensions} if dimensions else {}
    requests = [
        {"model": f"models/{model}", "content": {"parts": [{"text": text}]}, **extra}
        for text in texts
    ]
    headers = {"x-goog-api-key": api_key} if api_key else {}
    url = join(base_url, f"v1beta/models/{model}:batchEmbedContents")
    return Outgoing(url, {"requests": requests}, headers)


def embeddings_parse(data: dict[str, Any]) -> tuple[list[list[float]], Usage]:
    """The vectors; Gemini reports no tokens for them (counted offline, as estimated)."""
    vectors = [e.get("values") or [] for e in data.get("embeddings") or []]
    return vectors, _usage(data.get("usageMetadata") or {})
