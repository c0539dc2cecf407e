"""The gateway's forward step for `ai` and `prompt` APIs: every surface over every provider.

Everything here runs on the event loop; the provider calls keep to the API's connect, read and
total timeouts, and a stream the client abandons ends the provider's call at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from dataclasses import replace
from typing import Any

import httpx

from apis.ai import answer_cache, calls, prices, prompts, routing, spend, tokens
from apis.ai.calls import Answer, Budget, OpenStream
from apis.ai.chat import StreamFailed, StreamState, Usage
from apis.ai.formats import SURFACE_PATHS, Format, embeddings, json_object
from apis.ai.formats.chat import Chat
from apis.ai.formats.messages import Messages, count_tokens_build
from apis.ai.formats.responses import Responses
from apis.ai.models import PromptEndpoint, Provider
from apis.ai.outgoing import Outgoing
from apis.ai.targets import Target, deployments_of, prompt_of, targets_for
from apis.gateway import limit
from apis.gateway.context import AdmittedCall, ReleasingStream
from apis.gateway.errors import GatewayError
from apis.gateway.forward import until, upstream_deadline, upstream_timeout
from apis.gateway.request_body import read_body
from core.parsers import strict_json

logger = logging.getLogger(__name__)

JSON = {"Content-Type": "application/json"}
EVENT_STREAM = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


SURFACES: dict[str, Format] = {
    "chat/completions": Chat(),
    "responses": Responses(),
    "v1/messages": Messages(),
}


async def forward_ai(call: AdmittedCall) -> None:
    """The surfaces of an `ai` API: chat, responses, messages (streamed or not), embeddings,
    count_tokens and models."""
    path = call.request.path.strip("/")
    if path in SURFACES:
        _require_method(call, "POST")
        await converse(call, SURFACES[path], await _json_body(call))
    elif path == "embeddings":
        _require_method(call, "POST")
        await embed(call, await _json_body(call))
    elif path == "v1/messages/count_tokens":
        _require_method(call, "POST")
        await count_tokens(call, await _json_body(call))
    elif path == "models" or path.startswith("models/"):
        _require_method(call, "GET")
        models(call, path.removeprefix("models").strip("/"))
    else:
        raise GatewayError(404, "Not found", f"No route '/{path}': use {', '.join(SURFACE_PATHS)}.")


async def converse(call: AdmittedCall, fmt: Format, body: Any) -> None:
    """Answer a request in the format's surface from the first target that answers.

    The request becomes the core's Chat Completions body; each target is called natively
    when its provider speaks the surface, else through its adapter.
    """
    request = fmt.request(body)
    cache_key = answer_cache.key_for(call, fmt.name, body)
    if await answer_cache.serve(call, cache_key):
        return
    targets = await _targets(call, preferred=str(request.get("model") or ""))
    cap = spend.output_cap(call, request, targets)
    if cap:
        # The reservation's worst case holds only if the provider is held to it.
        request["max_completion_tokens"] = cap
        if fmt.max_output_field:
            body = {**body, fmt.max_output_field: cap}
    budget = call_budget(call, tokens=await _reserve(call, targets, request))
    build = _build(fmt, body, request)
    if request.get("stream"):
        opened = await calls.open_stream(targets, request, budget=budget, build=build)
        _set_answer(call, 200, EVENT_STREAM, opened.target)
        answer_cache.miss(call, cache_key)
        call.outcome.body = translated_body(
            call, opened, fmt, request, deadline=budget.deadline, cache_key=cache_key
        )
        return
    data, target = await calls.answer_json(targets, build, budget=budget)
    if fmt.is_native(target):
        reply, usage = fmt.native_answer(data, target.ref)
        usage = tokens.settled(usage, request=request, output="", complete=True)
    else:
        answer, usage = target.adapter.parse(data, model=target.ref)
        usage = tokens.settled(usage, request=request, output=_text(answer), complete=True)
        reply = fmt.answer(answer, usage)
    _set_answer(call, 200, JSON, target)
    _charge(call, target, usage)
    answered = json.dumps(reply).encode()
    call.outcome.body = answered
    await answer_cache.keep(call, cache_key, [answered])
    answer_cache.miss(call, cache_key)


def _build(fmt: Format, body: dict[str, Any], request: dict[str, Any]) -> calls.Build:
    translated = calls.chat_build(request)

    def build(target: Target, stream: bool) -> Outgoing:
        if fmt.is_native(target):
            return fmt.native_build(target, body, stream)
        return translated(target, stream)

    return build


async def _reserve(call: AdmittedCall, targets: list[Target], request: dict[str, Any]) -> int:
    """Reserve the call's worst case against its budgets and quota; its worst case of tokens
    (0 when nothing counts them: the input is counted only then)."""
    if not spend.counts_tokens(call, targets):
        return 0
    input_tokens, output_tokens = spend.chat_worst_case(request)
    await spend.reserve(call, targets, input_tokens=input_tokens, output_tokens=output_tokens)
    return input_tokens + output_tokens


def _text(answer: dict[str, Any]) -> str:
    message = answer["choices"][0].get("message") or {}
    calls_text = json.dumps(message["tool_calls"]) if message.get("tool_calls") else ""
    return (message.get("content") or "") + calls_text


def call_budget(call: AdmittedCall, *, tokens: int = 0) -> Budget:
    """The API's connect and read timeouts, its total deadline from now, and the call's worst
    case of tokens, whose hold in a deployment's minute is settled with the call."""
    api = call.api
    return Budget(upstream_timeout(api), upstream_deadline(api), tokens, call.outcome.minute_holds)


def translated_body(
    call: AdmittedCall,
    opened: OpenStream,
    fmt: Format,
    request: dict[str, Any],
    *,
    deadline: float | None,
    cache_key: str = "",
) -> ReleasingStream:
    """The answer's body: the provider's stream in the format's events; closing it ends the
    call."""
    events = translated_stream(call, opened, fmt, request, deadline=deadline, cache_key=cache_key)
    return ReleasingStream(events, opened.aclose)


async def translated_stream(
    call: AdmittedCall,
    opened: OpenStream,
    fmt: Format,
    request: dict[str, Any],
    *,
    deadline: float | None,
    cache_key: str = "",
) -> AsyncGenerator[bytes, None]:
    """The provider's stream in the format's events, each sent on as soon as it is written.

    However it ends (its last event, a failure, the total deadline, or the client gone, which
    cancels the task or closes this body), the provider's connection is dropped at once, so it
    stops generating, and the call is charged: with the provider's counts when its stream
    ended with them, else with the tokens counted here, marked estimated. A stream that ended
    well is kept under `cache_key`, when there is one.
    """
    target = opened.target
    state = StreamState(model=target.ref)
    if fmt.is_native(target):
        items = fmt.native_events(opened.lines(), state)
        writer = fmt.native_writer(state)
    else:
        items = target.adapter.stream(opened.lines(), state, include_usage=False)
        writer = fmt.writer(state, request)
    complete = False
    sent: list[bytes] = []

    def usage() -> Usage:
        output = "".join(writer.output)
        return tokens.settled(state.usage, request=request, output=output, complete=complete)

    try:
        while (item := await until(deadline, anext(items, None))) is not None:
            for piece in writer.write(item):
                if cache_key:
                    sent.append(piece)
                yield piece
        complete = True
        for piece in writer.end(usage()):
            if cache_key:
                sent.append(piece)
            yield piece
        await answer_cache.keep(call, cache_key, sent)
    except (StreamFailed, ValueError, httpx.TransportError, TimeoutError) as exc:
        # Headers are gone already: each surface has its own event for a failure.
        logger.warning("stream of %s failed: %s", target.ref, str(exc) or "total timeout")
        message = f"{target.ref}: {exc}" if str(exc) else f"{target.ref} did not finish in time."
        for piece in writer.error(message):
            yield piece
    finally:
        await opened.aclose()
        await items.aclose()
        _charge(call, target, usage())


async def embed(call: AdmittedCall, body: Any) -> None:
    """Embeddings from the first of the API's models whose provider has them."""
    request = embeddings.request(body)
    cache_key = answer_cache.key_for(call, "embeddings", body)
    if await answer_cache.serve(call, cache_key):
        return
    targets = await _targets(call, preferred=request.model)
    able = _offering(
        targets,
        [t for t in targets if t.embeds],
        "embeddings",
        "have no embeddings: this API cannot answer /embeddings",
    )
    input_tokens = sum(map(tokens.count, request.texts)) if spend.counts_tokens(call, able) else 0
    await spend.reserve(call, able, input_tokens=input_tokens, output_tokens=0)
    budget = call_budget(call, tokens=input_tokens)
    data, target = await calls.answer_json(able, request.build, budget=budget)
    vectors, usage = target.embedder.embeddings_parse(data)
    if not usage.reported:
        usage = Usage(sum(map(tokens.count, request.texts)), estimated=True)
    _set_answer(call, 200, JSON, target)
    _charge(call, target, usage)
    answered = json.dumps(embeddings.answer(request, vectors, usage, target.ref)).encode()
    call.outcome.body = answered
    await answer_cache.keep(call, cache_key, [answered])
    answer_cache.miss(call, cache_key)


def _offering(targets: list[Target], able: list[Target], what: str, why: str) -> list[Target]:
    """The targets able to answer, or 400 naming the provider kinds that are not."""
    if not able:
        kinds = ", ".join(sorted({t.provider.kind for t in targets}))
        raise GatewayError(
            400,
            f"No {what} here",
            f"Providers of kind '{kinds}' {why}.",
            code=f"{what}_not_offered",
        )
    return able


async def count_tokens(call: AdmittedCall, body: Any) -> None:
    """Anthropic's count_tokens, from the API's first Anthropic provider; not charged."""
    body = json_object(body)
    targets = await targets_for(_refs(call), preferred=str(body.get("model") or ""))
    able = _offering(
        targets,
        [t for t in targets if t.provider.kind == Provider.Kind.ANTHROPIC],
        "count_tokens",
        "cannot count tokens: only anthropic providers can",
    )

    def build(target: Target, stream: bool) -> Outgoing:
        return count_tokens_build(target, body)

    # Not a call that reserves: its limits are counted before the provider is asked.
    await limit.admit(call)
    data, target = await calls.answer_json(able, build, budget=call_budget(call))
    _set_answer(call, 200, JSON, target)
    call.outcome.body = json.dumps(data).encode()


def models(call: AdmittedCall, model_id: str) -> None:
    """OpenAI's model list (or one model) of the API's models."""
    entries = [
        {"id": ref, "object": "model", "created": 0, "owned_by": ref.partition("/")[0]}
        for ref in _refs(call)
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
    call.outcome.status, call.outcome.headers = 200, dict(JSON)
    call.outcome.body = json.dumps(body).encode()


async def forward_prompt(call: AdmittedCall) -> None:
    """POST /gw/<slug>/ with the variables -> {output, model, usage, cost}.

    Like an `ai` API's model, the prompt's model may be served by the API's deployments, and
    its answers kept in the answer cache (per prompt version: an edited prompt asks anew).
    """
    if call.request.path.strip("/"):
        raise GatewayError(404, "Not found", "A prompt API answers at its root only.")
    _require_method(call, "POST")
    prompt = await prompt_of(call.api.pk)
    if prompt is None:
        raise GatewayError(503, "Prompt not configured", f"'{call.api.slug}' has no prompt yet.")
    variables = await _json_body(call)
    prompts.validate_variables(prompt.variables, variables)
    cache_key = answer_cache.key_for(call, f"prompt:v{prompt.version}", variables)
    if await answer_cache.serve(call, cache_key):
        return
    targets = await _targets(call, preferred="", model=prompt.model)
    output, answer, usage = await _prompt_answer(call, prompt, targets, variables)
    _set_answer(call, 200, JSON, answer.target)
    _charge(call, answer.target, usage)
    body = {
        "output": output,
        "model": answer.target.label,
        "usage": usage.as_openai(),
        "cost": str(call.outcome.cost),
    }
    call.outcome.body = json.dumps(body).encode()
    # Served again from the cache, the same answer costs nothing.
    await answer_cache.keep(call, cache_key, [json.dumps({**body, "cost": "0"}).encode()])
    answer_cache.miss(call, cache_key)


async def _prompt_answer(
    call: AdmittedCall, prompt: PromptEndpoint, targets: list[Target], variables: dict[str, Any]
) -> tuple[Any, Answer, Usage]:
    messages = _prompt_messages(prompt, variables)
    request: dict[str, Any] = {"messages": messages}
    if prompt.output == PromptEndpoint.Output.JSON:
        request["response_format"] = {"type": "json_object"}
    cap = spend.output_cap(call, request, targets)
    if cap:
        request["max_completion_tokens"] = cap
    # The retry shares the first attempt's total deadline: the API's limit is for the call.
    budget = call_budget(call, tokens=await _reserve(call, targets, request))
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
        retried = {**request, "messages": retry}
        tokens_again = await _reserve(call, targets, retried)
        answer = await calls.complete(targets, retried, budget=replace(budget, tokens=tokens_again))
        usage.prompt_tokens += answer.usage.prompt_tokens
        usage.completion_tokens += answer.usage.completion_tokens
        output, problem = _json_output(_content(answer), prompt.output_schema)
    if problem:
        _charge(call, answer.target, usage)
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


async def _json_body(call: AdmittedCall) -> Any:
    body = await read_body(call)
    try:
        return strict_json(body or b"null")
    except ValueError as exc:
        raise GatewayError(
            400, "Invalid JSON", f"The body is not valid JSON: {exc}", code="invalid_json"
        ) from exc


def _require_method(call: AdmittedCall, method: str) -> None:
    if call.request.method != method:
        raise GatewayError(
            405, "Method not allowed", f"Use {method} here.", headers={"Allow": method}
        )


async def _targets(call: AdmittedCall, *, preferred: str, model: str = "") -> list[Target]:
    """The API's deployments in its routing's order, then its fallbacks; without deployments,
    its model (or a prompt's `model`) and fallbacks, the client's choice first."""
    deployments = await deployments_of(call.api.pk)
    if not deployments:
        return await targets_for(_refs(call, model), preferred=preferred)
    fallbacks = await targets_for(call.api.fallbacks) if call.api.fallbacks else []
    return [*routing.order(call.api.routing, deployments), *fallbacks]


def _refs(call: AdmittedCall, model: str = "") -> list[str]:
    return [model or call.api.model, *(call.api.fallbacks or [])]


def _set_answer(call: AdmittedCall, status: int, headers: dict[str, str], target: Target) -> None:
    outcome = call.outcome
    outcome.status, outcome.model_used = status, target.label
    outcome.headers = {**headers, "X-Model": target.label}


def _charge(call: AdmittedCall, target: Target, usage: Usage) -> None:
    """The provider's own token counts (or the estimate) and their cost, for quotas and usage."""
    outcome = call.outcome
    outcome.prompt_tokens, outcome.completion_tokens = usage.prompt_tokens, usage.completion_tokens
    outcome.cache_read_tokens, outcome.cache_write_tokens = (
        usage.cache_read_tokens,
        usage.cache_write_tokens,
    )
    outcome.reasoning_tokens, outcome.tokens_estimated = usage.reasoning_tokens, usage.estimated
    outcome.cost = prices.call_cost(
        provider=target.provider, model=target.model, prices=target.prices, usage=usage
    )
