"""A REST call over the API's upstream targets: balanced, kept off dead ones, retried once.

Passive health: a connect error, a reset, a timeout or an answer whose status the API names
counts against the target it came from (circuits.py); enough of them open its circuit for every
gateway process. A call that could not reach its target goes once to another when that cannot
do harm: nothing was sent (a refused connection, whatever the method), or the method is
idempotent (RFC 9110 §9.2.2) and the connection broke before an answer began. A streamed
request body already partly read cannot be sent twice, so such a call is never retried.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Collection

import httpx

from apis.conf import gateway_settings
from apis.gateway import balance, circuits
from apis.gateway.context import AdmittedCall
from apis.gateway.errors import SHARED_CACHE_ERRORS, GatewayError, unavailable
from apis.models import UpstreamTarget

logger = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
UNREACHED = (httpx.TransportError, TimeoutError)

Send = Callable[[str], Awaitable[httpx.Response]]
Release = Callable[[], Awaitable[None]]


async def send_balanced(call: AdmittedCall, send: Send) -> tuple[httpx.Response, Release]:
    """The answer of a target (a second one if the first could not be reached and a retry is
    safe), and how to release it when the answer is over; 503 at once when all are down."""
    choice = await _choose(call)
    if not isinstance(choice, circuits.Choice):
        raise every_target_down(call, choice)
    try:
        return await _attempt(call, choice, send)
    except UNREACHED as exc:
        retry = await _choose(call, excluded=(choice.target.pk,)) if retryable(call, exc) else None
        if not isinstance(retry, circuits.Choice):
            raise
        return await _attempt(call, retry, send)


def retryable(call: AdmittedCall, exc: BaseException) -> bool:
    """Whether the call may go to another target after this failure."""
    body = call.request.body
    if not (body is None or isinstance(body, bytes) or call.outcome.bytes_read == 0):
        return False
    if isinstance(exc, NOT_SENT):
        return True
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return False  # the target may still be working on it
    return call.request.method in IDEMPOTENT


def every_target_down(call: AdmittedCall, wait: float) -> GatewayError:
    """503 naming the API, with the seconds until a target may be tried again."""
    seconds = max(1, math.ceil(wait))
    return GatewayError(
        503,
        "Upstream unavailable",
        f"Every upstream target of '{call.api.slug}' is down; retry in {seconds} s.",
        headers={"Retry-After": str(seconds)},
        api=call.api.slug,
    )


async def _choose(call: AdmittedCall, excluded: Collection[int] = ()) -> circuits.Choice | float:
    candidates = balance.preference(call.api, call.api.listed_targets, excluded)
    try:
        return await circuits.choose(call.api, candidates)
    except SHARED_CACHE_ERRORS as exc:
        if not gateway_settings.FAIL_OPEN:
            raise unavailable("Upstream health cannot be checked right now.") from exc
        return circuits.Choice(candidates[0], trial=False) if candidates else 0.0


async def _attempt(
    call: AdmittedCall, choice: circuits.Choice, send: Send
) -> tuple[httpx.Response, Release]:
    target = choice.target
    balance.started(target)
    try:
        response = await send(target.url)
    except BaseException as exc:
        balance.finished(target)
        if isinstance(exc, UNREACHED):
            await _count(call, target, ok=False, reason=_what_happened(exc))
        raise
    failed = response.status_code in call.api.failure_statuses
    if failed or choice.trial:
        await _count(call, target, ok=not failed, reason=f"answered {response.status_code}")
    return response, _releaser(target, response)


async def _count(call: AdmittedCall, target: UpstreamTarget, *, ok: bool, reason: str) -> None:
    """The outcome, into the target's shared circuit; the call's own answer does not wait on
    whether that worked (a Redis gone now fails the next call's check instead)."""
    try:
        state = await circuits.report(target, call.api, ok=ok, reason=reason)
    except SHARED_CACHE_ERRORS:
        logger.warning("target %s of %s: outcome not recorded", target.url, call.api.slug)
        return
    if state == circuits.OPEN:
        logger.warning("target %s of %s is open: %s", target.url, call.api.slug, reason)


def _what_happened(exc: BaseException) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connect error"
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timeout"
    return "connection reset"


def _releaser(target: UpstreamTarget, response: httpx.Response) -> Release:
    """Close the answer and free the target's place in flight, once however often called."""
    held = [target]

    async def release() -> None:
        try:
            await response.aclose()
        finally:
            if held:
                balance.finished(held.pop())

    return release
