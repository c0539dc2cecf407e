"""Calling providers: one attempt per target in order, moving on after 429, 5xx or a timeout.

Every call runs on the event loop over the loop's pooled AsyncClient, within the API's connect
and read timeouts and, when it has one, its total deadline, which all attempts share.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from apis.ai import routing
from apis.ai.chat import Usage
from apis.ai.outgoing import Outgoing, error_text
from apis.ai.sse import decoded
from apis.ai.targets import Target
from apis.conf import gateway_settings
from apis.gateway.counters import MinuteHold
from apis.gateway.errors import GatewayError
from apis.gateway.forward import until
from apis.gateway.http_client import AnswerTooLarge, answer_chunks, read_within, upstream_client

# Statuses worth another provider: overloaded, rate-limited or broken, not the request's fault.
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504, 529})
# Provider statuses passed on as they are; other failures become 502, or 503 when overloaded.
KEPT = frozenset({400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504})
SERVER_STATUSES = {529: 503}
# What the gateway reads of a provider's refusal: enough for its message, never more.
ERROR_BODY_LIMIT = 64 * 1024


# How one target is called: its provider's request for this call, streamed or not.
Build = Callable[[Target, bool], Outgoing]


@dataclass(frozen=True)
class Budget:
    """What a call may take of providers: httpx's connect and read timeouts, the total
    deadline, and its worst case of tokens for deployments' tokens per minute."""

    timeout: httpx.Timeout
    # On the event loop's clock; None: no total timeout.
    deadline: float | None = None
    tokens: int = 0
    # The tokens taken from the minute of the deployment that answered, settled at the end.
    held: list[MinuteHold] = field(default_factory=list)

    def spent(self) -> bool:
        """Whether the total deadline has passed (no time left for a fallback)."""
        return self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline


@dataclass
class Answer:
    """A non-streamed answer in OpenAI's shape, its usage and who gave it."""

    body: dict[str, Any]
    usage: Usage
    target: Target


@dataclass
class OpenStream:
    """A provider's stream whose headers arrived with success; iterate `chunks`, then close."""

    response: httpx.Response
    target: Target

    def chunks(self) -> AsyncIterator[bytes]:
        """The stream's bytes as they arrive (its events are bounded as they are split)."""
        return answer_chunks(self.response)

    async def aclose(self) -> None:
        """Release the connection; before the stream's end this drops it, and the provider
        sees the call end and stops generating."""
        await self.response.aclose()


def chat_build(body: dict[str, Any]) -> Build:
    """The Chat Completions body as each target's adapter writes it for its provider."""

    def build(target: Target, stream: bool) -> Outgoing:
        return target.adapter.build(
            base_url=target.provider.base_url,
            api_key=target.api_key(),
            model=target.model,
            body=body,
            stream=stream,
        )

    return build


async def complete(targets: list[Target], body: dict[str, Any], *, budget: Budget) -> Answer:
    """The first target's answer that is not a retryable failure, as a chat.completion."""
    data, target = await answer_json(targets, chat_build(body), budget=budget)
    answer, usage = target.adapter.parse(data, model=target.ref)
    return Answer(answer, usage, target)


async def answer_json(targets: list[Target], build: Build, *, budget: Budget) -> tuple[Any, Target]:
    """The JSON answer of the first target that does not fail in a retryable way."""
    response, target = await _first_answer(targets, build, stream=False, budget=budget)
    try:
        return response.json(), target
    except ValueError as exc:
        raise GatewayError(
            502, "Bad gateway", f"{target.ref} answered something other than JSON."
        ) from exc


async def open_stream(
    targets: list[Target], body: dict[str, Any], *, budget: Budget, build: Build | None = None
) -> OpenStream:
    """The first target's stream that starts with success."""
    build = build or chat_build(body)
    response, target = await _first_answer(targets, build, stream=True, budget=budget)
    return OpenStream(response, target)


async def _first_answer(
    targets: list[Target], build: Build, *, stream: bool, budget: Budget
) -> tuple[httpx.Response, Target]:
    failure: GatewayError | None = None
    limited = False
    for target in targets:
        admission, hold = await routing.admit(target, budget.tokens)
        if admission != routing.Admission.ADMITTED:
            limited = limited or admission != routing.Admission.COOLING_DOWN
            continue
        if hold:
            # Held by the call from now: settled with it, however it ends (a client gone too).
            budget.held.append(hold)
        began = routing.began(target)
        try:
            return await _attempt(target, build, stream=stream, budget=budget), target
        except GatewayError as error:
            if hold:
                budget.held.remove(hold)
                await routing.settle([hold], 0)
            if error.status not in RETRYABLE or budget.spent():
                raise
            await routing.cool_down(target)
            failure = error
        finally:
            routing.ended(target, began)
    raise failure or _none_left(targets, limited=limited)


def _none_left(targets: list[Target], *, limited: bool) -> GatewayError:
    """Every deployment was skipped: 429 until the next minute when a declared limit stopped
    one, else 503 while they cool down."""
    if limited:
        wait = routing.seconds_to_next_minute()
        return GatewayError(
            429,
            "Provider rate limit",
            "Every deployment of this model is at the requests or tokens per minute its "
            f"provider allows, or cooling down; retry in {wait} s.",
            headers={"Retry-After": str(wait)},
            code="deployments_rate_limited",
        )
    return GatewayError(
        503,
        "No deployment available",
        "Every deployment of this model is cooling down; retry shortly.",
        headers={"Retry-After": str(min(t.cooldown for t in targets if t.deployment) or 1)},
        code="deployments_unavailable",
    )


async def _attempt(target: Target, build: Build, *, stream: bool, budget: Budget) -> httpx.Response:
    request = _request(build(target, stream), timeout=budget.timeout)
    try:
        response = await until(budget.deadline, upstream_client().send(request, stream=True))
        if response.status_code < 400 and not stream:
            response = await _read(response, budget)
    except AnswerTooLarge as exc:
        raise GatewayError(
            502, "Bad gateway", f"{target.ref} {exc}.", code="upstream_answer_too_large"
        ) from exc
    except (httpx.TimeoutException, TimeoutError) as exc:
        raise GatewayError(
            504, "Upstream timeout", f"{target.ref} did not answer in time.", code="timeout"
        ) from exc
    except httpx.TransportError as exc:
        raise GatewayError(
            502,
            "Bad gateway",
            f"{target.ref} refused or reset the connection.",
            code="upstream_unreachable",
        ) from exc
    if response.status_code >= 400:
        raise await provider_error(target, response)
    return response


def _request(outgoing: Outgoing, *, timeout: httpx.Timeout) -> httpx.Request:
    # Built as it goes: the pooled client adds no headers, cookies or base URL to merge, and
    # merging nothing through its `build_request` costs twice the request itself.
    return httpx.Request(
        outgoing.method,
        outgoing.url,
        json=outgoing.body,
        headers={"Accept": "application/json", **outgoing.headers},
        extensions={"timeout": timeout.as_dict()},
    )


async def _read(response: httpx.Response, budget: Budget) -> httpx.Response:
    """The answer's status and body, read whole (decompressed) within the deadline and the
    gateway's ANSWER_LIMIT: a provider that never ends its answer holds no more than that."""
    try:
        limit = gateway_settings.ANSWER_LIMIT
        body = await until(budget.deadline, read_within(response, limit))
    finally:
        await response.aclose()
    return httpx.Response(response.status_code, content=body, request=response.request)


async def provider_error(target: Target, response: httpx.Response) -> GatewayError:
    """The provider's refusal as the gateway's error, status kept where clients can act on it."""
    body = b""
    try:
        body = await read_within(response, ERROR_BODY_LIMIT)
        data: Any = json.loads(body)
    except (ValueError, httpx.HTTPError, AnswerTooLarge):
        data = decoded(body)
    finally:
        await response.aclose()
    message, code = error_text(data)
    status = response.status_code
    status = status if status in KEPT else SERVER_STATUSES.get(status, 502)
    headers = (
        {"Retry-After": response.headers["retry-after"]}
        if "retry-after" in response.headers
        else {}
    )
    detail = f"{target.ref}: {message or 'the provider refused the request'}"
    return GatewayError(
        status, _TITLES.get(status, "Provider error"), detail, headers=headers, code=code or None
    )


_TITLES = {
    400: "Invalid request",
    401: "Provider authentication failed",
    403: "Provider permission denied",
    404: "Model not found",
    408: "Provider timeout",
    422: "Unprocessable request",
    429: "Provider rate limit",
}
