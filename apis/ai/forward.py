"""The gateway's forward step for `ai` and `prompt` APIs: the OpenAI face over the providers.

Everything here runs on the event loop; the provider calls keep to the API's connect, read and
total timeouts, and a stream the client abandons ends the provider's call at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

from apis.ai import calls, prices, prompts
from apis.ai.calls import Answer, Budget, OpenStream
from apis.ai.chat import StreamFailed, StreamState, Usage
from apis.ai.sse import DONE, event
from apis.ai.targets import Target, prompt_of, targets_for
from apis.gateway.context import GatewayContext, ReleasingStream
from apis.gateway.errors import GatewayError
from apis.gateway.forward import until, upstream_deadline, upstream_timeout
from apis.gateway.request_body import read_body
from apis.models import PromptEndpoint
from core.parsers import strict_json

logger = logging.getLogger(__name__)

JSON = {"Content-Type": "application/json"}
EVENT_STREAM = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


async def forward_chat(ctx: GatewayContext) -> None:
    """/chat/completions (streamed or not) and /models of an `ai` API."""
    path = ctx.path.strip("/")
    if path == "chat/completions":
        _require_method(ctx, "POST")
        await chat_completions(ctx, await _chat_request(ctx))
    elif path == "models" or path.startswith("models/"):
        _require_method(ctx, "GET")
        models(ctx, path.removeprefix("models").strip("/"))
    else:
        raise GatewayError(
            404, "Not found", f"No route '/{path}': use /chat/completions or /models."
        )


async def chat_completions(ctx: GatewayContext, body: dict[str, Any]) -> None:
    """Answer a chat request from the first target that answers."""
    targets = await targets_for(_refs(ctx), preferred=str(body.get("model") or ""))
    budget = call_budget(ctx)
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        opened = await calls.open_stream(targets, body, budget=budget)
        _set_answer(ctx, 200, EVENT_STREAM, opened.target)
        ctx.response_body = translated_body(
            ctx, opened, include_usage=include_usage, deadline=budget.deadline
        )
        return
    answer = await calls.complete(targets, body, budget=budget)
    _set_answer(ctx, 200, JSON, answer.target)
    _charge(ctx, answer.target, answer.usage)
    ctx.response_body = json.dumps(answer.body).encode()


def call_budget(ctx: GatewayContext) -> Budget:
    """The API's connect and read timeouts, and its total deadline from now."""
    return Budget(upstream_timeout(ctx), upstream_deadline(ctx))


def translated_body(
    ctx: GatewayContext, opened: OpenStream, *, include_usage: bool, deadline: float | None
) -> ReleasingStream:
    """The answer's body: the provider's stream as OpenAI events; closing it ends the call."""
    events = translated_stream(ctx, opened, include_usage=include_usage, deadline=deadline)
    return ReleasingStream(events, opened.aclose)


async def translated_stream(
    ctx: GatewayContext, opened: OpenStream, *, include_usage: bool, deadline: float | None
) -> AsyncIterator[bytes]:
    """The provider's stream as OpenAI events, each sent on as soon as it is translated.

    However it ends (its last event, a failure, the total deadline, or the client gone, which
    cancels the task or closes this body), the provider's connection is dropped at once, so it
    stops generating, and the tokens it reported so far are charged.
    """
    target = opened.target
    state = StreamState(model=target.ref)
    chunks = target.adapter.stream(opened.lines(), state, include_usage=include_usage)
    try:
        while (chunk := await until(deadline, anext(chunks, None))) is not None:
            yield event(chunk)
    except (StreamFailed, ValueError, httpx.TransportError, TimeoutError) as exc:
        # Headers are gone already; OpenAI's SDKs read an `error` event as a failure.
        logger.warning("stream of %s failed: %s", target.ref, str(exc) or "total timeout")
        yield _stream_error(target, exc)
    finally:
        await opened.aclose()
        await chunks.aclose()
        _charge(ctx, target, state.usage)
    yield DONE


def _stream_error(target: Target, exc: Exception) -> bytes:
    message = f"{target.ref}: {exc}" if str(exc) else f"{target.ref} did not finish in time."
    return event({"error": {"message": message, "type": "api_error", "code": "stream_failed"}})


def models(ctx: GatewayContext, model_id: str) -> None:
    """OpenAI's model list (or one model) of the API's models."""
    entries = [
        {"id": ref, "object": "model", "created": 0, "owned_by": ref.partition("/")[0]}
        for ref in _refs(ctx)
    ]
    if model_id:
        entry = next((e for e in entries if e["id"] == model_id), None)
        if entry is None:
            raise GatewayError(
                404,
                "Model not found",
                f"This API offers no model '{model_id}'.",
                code="model_not_found",
            )
        body: dict[str, Any] = entry
    else:
        body = {"object": "list", "data": entries}
    ctx.status, ctx.response_headers = 200, dict(JSON)
    ctx.response_body = json.dumps(body).encode()


async def forward_prompt(ctx: GatewayContext) -> None:
    """POST /gw/<slug>/ with the variables -> {output, model, usage, cost}."""
    if ctx.path.strip("/"):
        raise GatewayError(404, "Not found", "A prompt API answers at its root only.")
    _require_method(ctx, "POST")
    prompt = await prompt_of(ctx.api.pk)
    if prompt is None:
        raise GatewayError(503, "Prompt not configured", f"'{ctx.api.slug}' has no prompt yet.")
    variables = await _json_body(ctx)
    prompts.validate_variables(prompt.variables, variables)
    targets = await targets_for([prompt.model, *(ctx.api.fallbacks or [])])
    output, answer, usage = await _prompt_answer(ctx, prompt, targets, variables)
    _set_answer(ctx, 200, JSON, answer.target)
    _charge(ctx, answer.target, usage)
    body = {
        "output": output,
        "model": answer.target.ref,
        "usage": usage.as_openai(),
        "cost": str(ctx.cost),
    }
    ctx.response_body = json.dumps(body).encode()


async def _prompt_answer(
    ctx: GatewayContext, prompt: PromptEndpoint, targets: list[Target], variables: dict[str, Any]
) -> tuple[Any, Answer, Usage]:
    messages = _prompt_messages(prompt, variables)
    request: dict[str, Any] = {"messages": messages}
    if prompt.output == PromptEndpoint.Output.JSON:
        request["response_format"] = {"type": "json_object"}
    # The retry shares the first attempt's total deadline: the API's limit is for the call.
    budget = call_budget(ctx)
    answer = await calls.complete(targets, request, budget=budget)
    usage = Usage(answer.usage.prompt_tokens, answer.usage.completion_tokens)
    if prompt.output != PromptEndpoint.Output.JSON:
        return _content(answer), answer, usage
    output, problem = _json_output(_content(answer), prompt.output_schema)
    if problem:
        # One retry, telling the model what was wrong with its answer.
        retry = [
            *messages,
            {"role": "assistant", "content": _content(answer)},
            {"role": "user", "content": f"{problem} Answer again with valid JSON only."},
        ]
        answer = await calls.complete(targets, {**request, "messages": retry}, budget=budget)
        usage.prompt_tokens += answer.usage.prompt_tokens
        usage.completion_tokens += answer.usage.completion_tokens
        output, problem = _json_output(_content(answer), prompt.output_schema)
    if problem:
        _charge(ctx, answer.target, usage)
        raise GatewayError(502, "Invalid model output", f"{answer.target.ref}: {problem}")
    return output, answer, usage


def _prompt_messages(prompt: PromptEndpoint, variables: dict[str, Any]) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
    return [*messages, {"role": "user", "content": prompts.render(prompt.template, variables)}]


def _json_output(text: str, schema: dict[str, Any] | None) -> tuple[Any, str]:
    """(parsed output, "") or (None, why it is not acceptable)."""
    cleaned = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        output = json.loads(cleaned)
    except ValueError as exc:
        return None, f"The answer is not valid JSON ({exc})."
    error = prompts.first_error(schema, output) if schema else None
    if error:
        return None, f"The answer does not match the output schema at {error[0]}: {error[1]}"
    return output, ""


def _content(answer: Answer) -> str:
    return answer.body["choices"][0]["message"].get("content") or ""


async def _chat_request(ctx: GatewayContext) -> dict[str, Any]:
    body = await _json_body(ctx)
    if not isinstance(body, dict):
        raise GatewayError(
            400, "Invalid request", "The body must be a JSON object.", code="invalid_request"
        )
    messages = body.get("messages")
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) for m in messages)
    ):
        raise GatewayError(
            400,
            "Invalid request",
            "'messages' must be a non-empty list of messages.",
            code="invalid_request",
            param="messages",
        )
    return body


async def _json_body(ctx: GatewayContext) -> Any:
    body = await read_body(ctx)
    try:
        return strict_json(body or b"null")
    except ValueError as exc:
        raise GatewayError(
            400, "Invalid JSON", f"The body is not valid JSON: {exc}", code="invalid_json"
        ) from exc


def _require_method(ctx: GatewayContext, method: str) -> None:
    if ctx.method != method:
        raise GatewayError(
            405, "Method not allowed", f"Use {method} here.", headers={"Allow": method}
        )


def _refs(ctx: GatewayContext) -> list[str]:
    return [ctx.api.model, *(ctx.api.fallbacks or [])]


def _set_answer(ctx: GatewayContext, status: int, headers: dict[str, str], target: Target) -> None:
    ctx.status, ctx.model_used = status, target.ref
    ctx.response_headers = {**headers, "X-Model": target.ref}


def _charge(ctx: GatewayContext, target: Target, usage: Usage) -> None:
    """The provider's own token counts and their cost, for quotas and usage."""
    ctx.prompt_tokens, ctx.completion_tokens = usage.prompt_tokens, usage.completion_tokens
    ctx.cost = prices.call_cost(
        provider=target.provider, model=target.model, prices=target.prices, usage=usage
    )
