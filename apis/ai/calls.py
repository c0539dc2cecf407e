"""Calling providers: one attempt per target in order, moving on after 429, 5xx or a timeout."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from apis.ai.chat import Usage
from apis.ai.outgoing import Outgoing, error_text
from apis.ai.targets import Target
from apis.gateway.errors import GatewayError
from apis.gateway.http_client import upstream_client

# Statuses worth another provider: overloaded, rate-limited or broken, not the request's fault.
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504, 529})
# Provider statuses passed on as they are; other failures become 502, or 503 when overloaded.
KEPT = frozenset({400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504})
SERVER_STATUSES = {529: 503}


@dataclass
class Answer:
    """A non-streamed answer in OpenAI's shape, its usage and who gave it."""

    body: dict[str, Any]
    usage: Usage
    target: Target


@dataclass
class OpenStream:
    """A provider's stream whose headers arrived with success; iterate `lines`, then close."""

    response: httpx.Response
    target: Target

    def lines(self) -> Iterator[str]:
        """The stream's lines as they arrive."""
        return self.response.iter_lines()

    def close(self) -> None:
        self.response.close()


def complete(targets: list[Target], body: dict[str, Any], *, timeout: float) -> Answer:
    """The first target's answer that is not a retryable failure."""
    response, target = _first_answer(targets, body, stream=False, timeout=timeout)
    try:
        data = response.json()
    except ValueError as exc:
        raise GatewayError(
            502, "Bad gateway", f"{target.ref} answered something other than JSON."
        ) from exc
    answer, usage = target.adapter.parse(data, model=target.ref)
    return Answer(answer, usage, target)


def open_stream(targets: list[Target], body: dict[str, Any], *, timeout: float) -> OpenStream:
    """The first target's stream that starts with success."""
    response, target = _first_answer(targets, body, stream=True, timeout=timeout)
    return OpenStream(response, target)


def _first_answer(
    targets: list[Target], body: dict[str, Any], *, stream: bool, timeout: float
) -> tuple[httpx.Response, Target]:
    failure: GatewayError | None = None
    for target in targets:
        try:
            return _attempt(target, body, stream=stream, timeout=timeout), target
        except GatewayError as error:
            if error.status not in RETRYABLE:
                raise
            failure = error
    raise failure


def _attempt(
    target: Target, body: dict[str, Any], *, stream: bool, timeout: float
) -> httpx.Response:
    outgoing: Outgoing = target.adapter.build(
        kind=target.provider.kind,
        base_url=target.provider.base_url,
        api_key=target.provider.api_key(),
        model=target.model,
        body=body,
        stream=stream,
    )
    request = upstream_client().build_request(
        outgoing.method,
        outgoing.url,
        json=outgoing.body,
        headers={"Accept": "application/json", **outgoing.headers},
        timeout=httpx.Timeout(timeout),
    )
    try:
        response = upstream_client().send(request, stream=True)
    except httpx.TimeoutException as exc:
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
        raise provider_error(target, response)
    if not stream:
        response.read()
        response.close()
    return response


def provider_error(target: Target, response: httpx.Response) -> GatewayError:
    """The provider's refusal as the gateway's error, status kept where clients can act on it."""
    try:
        response.read()
        data: Any = response.json()
    except (ValueError, httpx.HTTPError):
        data = response.text if response.is_closed else ""
    finally:
        response.close()
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
