"""Money budgets and token quotas that hold: each AI call reserves its worst case first.

Before a provider is called, the call's worst case (the input counted here, and the output it
asks for or its plan's cap, at the dearest of its targets' prices) is taken from the month's
spend of the subscription and of the application, and from the application's tokens on the
plan, in one atomic step in the shared cache: the script that counts the call's rate limit and
quotas (apis.gateway.counters), so that a budgeted call costs no more round trips than another.
A call that does not fit is refused with 429 before anything is spent; once it is over
(answered, failed, cut off or abandoned) it settles to what it really cost, and the rest of its
reservation is free again: on Redis, by a script sent with its usage event, in its round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import ROUND_CEILING, Decimal
from typing import Any

from apis.ai import chat, prices, routing, tokens
from apis.ai.chat import Usage
from apis.ai.targets import Target
from apis.conf import gateway_settings
from apis.gateway import counters, limit
from apis.gateway.context import AdmittedCall, Policy
from apis.gateway.errors import SHARED_CACHE_ERRORS, GatewayError, unavailable
from apis.gateway.kinds import Forwarder, Settlement
from core import shared

logger = logging.getLogger(__name__)

NANO = Decimal(1_000_000_000)
# The most output tokens a reservation counts, whatever a client asks for.
MAX_OUTPUT = 10_000_000
NONE = -1


def holds(call: AdmittedCall) -> bool:
    """Whether the call has a budget or a token quota to reserve against."""
    plan = call.plan
    return bool(
        plan.monthly_budget is not None
        or call.subscription.application.monthly_budget is not None
        or plan.token_quota
    )


def counts_tokens(call: AdmittedCall, targets: list[Target]) -> bool:
    """Whether the call's worst case of tokens is reserved: against a budget or token quota,
    or in the minute of a deployment with a tokens-per-minute limit."""
    return holds(call) or any(t.tpm for t in targets)


def output_cap(call: AdmittedCall, request: dict[str, Any], targets: list[Target]) -> int | None:
    """The plan's output cap when the call reserves its worst case and names no maximum."""
    if not counts_tokens(call, targets) or _asked(request):
        return None
    return call.plan.max_output_tokens


async def reserve(
    call: AdmittedCall,
    targets: list[Target],
    *,
    input_tokens: int,
    output_tokens: int,
) -> None:
    """Take the call's worst case from its budgets and quota, or refuse it with 429; with its
    rate limit and request quota when those are still to be counted (one round trip)."""
    if not holds(call):
        return
    usage = Usage(input_tokens, output_tokens)
    worst = max(
        prices.call_cost(provider=t.provider, model=t.model, prices=t.prices, usage=usage)
        for t in targets
    )
    hold = counters.Hold(
        keys=limit.spend_keys(call.subscription),
        cost=nanos(worst),
        tokens=input_tokens + output_tokens,
        limits=_limits(call),
        month_ttl=limit.month_ttl(),
    )
    held = await _held(call, hold)
    if held is None:
        return
    _add_policy(call, hold, held)
    if not held.taken:
        # Refused: as good as used up (what is left is less than this call may cost).
        over = _over(hold, held)
        used = tuple(cap if i in over else -1 for i, cap in enumerate(hold.limits))
        await _alerts(call, hold.limits, used)
        _refuse(call, hold, over, held)
    call.outcome.holds.append(hold)


async def _held(call: AdmittedCall, hold: counters.Hold) -> counters.Held | None:
    """The hold taken with the call's limits, or on its own once they are counted; None when
    the cache fails open."""
    if call.outcome.limits_pending:
        counts = await limit.admit(call, hold)
        return counts.held if counts else None
    try:
        return await counters.reserve(hold)
    except SHARED_CACHE_ERRORS as exc:
        if gateway_settings.FAIL_OPEN:
            return None
        raise unavailable("Budgets cannot be checked right now; retry shortly.") from exc


def admitting(forwarder: Forwarder) -> Forwarder:
    """The forwarder, seeing that a call whose limits wait for its reservation is counted
    however it ends without one (a cached answer, an error, the model list, the client gone):
    a refusal then replaces its answer, as it would have come first."""

    async def forward(call: AdmittedCall) -> None:
        try:
            await forwarder(call)
        except asyncio.CancelledError:
            # The client left first (its body still coming, say): the call took its place in
            # the rate window all the same. The cancellation that ends the call must not end
            # its count too.
            await asyncio.shield(_admit_abandoned(call))
            raise
        except Exception:
            await limit.admit(call)
            raise
        await limit.admit(call)

    return forward


async def _admit_abandoned(call: AdmittedCall) -> None:
    # A refusal, or the shared cache failing, has no client left to answer.
    with contextlib.suppress(GatewayError):
        await limit.admit(call)


def chat_worst_case(request: dict[str, Any]) -> tuple[int, int]:
    """(input tokens counted here, output tokens at most) of a Chat Completions request."""
    asked = _asked(request)
    return tokens.prompt_count(request), min(asked, MAX_OUTPUT) if asked else 0


async def settle(call: AdmittedCall) -> Settlement | None:
    """Replace the call's reservations by what it cost and used (nothing, if it failed): on
    Redis, scripts sent with its usage event, its alerts once they have answered."""
    outcome = call.outcome
    used = outcome.prompt_tokens + outcome.completion_tokens
    cost = nanos(outcome.cost)
    holds, outcome.holds = outcome.holds, []
    # The first hold takes the cost and tokens: a call's second reservation (a retry) is
    # settled against the same counters.
    owed = [(hold, cost if i == 0 else 0, used if i == 0 else 0) for i, hold in enumerate(holds)]
    if not shared.on_redis():
        await routing.settle(outcome.minute_holds, used)
        after = [counters.settle_local(hold, cost=c, tokens=t) for hold, c, t in owed]
        if after:
            await _alerts(call, holds[-1].limits, after[-1])
        return None
    minutes = routing.settle_scripts(outcome.minute_holds, used)
    spends = [counters.settle_script(hold, cost=c, tokens=t) for hold, c, t in owed]
    if not minutes and not spends:
        return None

    async def then(replies: list[Any]) -> None:
        if not holds:
            return
        last = replies[-1]
        if isinstance(last, Exception):
            # The reservation stays taken: the month's spend reads high, never low.
            logger.warning("request %s not settled: %s", call.request.request_id, last)
            return
        await _alerts(call, holds[-1].limits, counters.three(last))

    return Settlement([*minutes, *spends], then)


async def _alerts(call: AdmittedCall, limits: tuple[int, int, int], now: tuple) -> None:
    """The 80% and 100% alerts of the limits the call counts against."""
    names = ("this subscription's monthly budget", "the application's monthly budget")
    for index, what in enumerate(names):
        await limit.alert(
            call.subscription,
            policy="budget",
            used=now[index],
            cap=limits[index],
            what=what,
            whole=index == 1,
        )
    what = f"the monthly quota of {call.plan.token_quota} AI tokens"
    await limit.alert(call.subscription, policy="tokens", used=now[2], cap=limits[2], what=what)


def nanos(usd: Decimal) -> int:
    """USD as whole nano-dollars, rounded up."""
    return int((usd * NANO).to_integral_value(ROUND_CEILING))


def _asked(request: dict[str, Any]) -> int:
    asked = chat.max_tokens(request)
    return asked if isinstance(asked, int) and not isinstance(asked, bool) and asked > 0 else 0


def _limits(call: AdmittedCall) -> tuple[int, int, int]:
    application_budget = call.subscription.application.monthly_budget
    plan_budget = call.plan.monthly_budget
    return (
        NONE if plan_budget is None else nanos(plan_budget),
        NONE if application_budget is None else nanos(application_budget),
        call.plan.token_quota or NONE,
    )


def _add_policy(call: AdmittedCall, hold: counters.Hold, held: counters.Held) -> None:
    """The tightest budget as a "budget" policy of the RateLimit headers, in US cents."""
    pairs = zip(hold.limits[:2], held.spent[:2], strict=True)
    budgets = [(cap, spent) for cap, spent in pairs if cap >= 0]
    if not budgets:
        return
    cap, spent = min(budgets, key=lambda pair: pair[0] - pair[1])
    cents = NANO // 100
    policy = Policy(
        "budget",
        int(cap // cents),
        limit.month_seconds(),
        max(int((cap - spent) // cents), 0),
        limit.to_month_end(),
    )
    call.outcome.policies = [*call.outcome.policies, policy]


def _over(hold: counters.Hold, held: counters.Held) -> list[int]:
    """Which of the hold's limits (subscription, application, tokens) it did not fit."""
    amounts = (hold.cost, hold.cost, hold.tokens)
    return [
        i
        for i, (cap, spent, amount) in enumerate(zip(hold.limits, held.spent, amounts, strict=True))
        if cap >= 0 and spent + amount > cap
    ]


def _refuse(call: AdmittedCall, hold: counters.Hold, over: list[int], held: counters.Held) -> None:
    if over and over[0] == 2:
        limit.over(
            "tokens",
            f"This call may use {hold.tokens} AI tokens, more than is left of the monthly quota "
            f"of {call.plan.token_quota}.",
        )
    whose = "this subscription's" if over and over[0] == 0 else "the application's"
    cap = hold.limits[over[0] if over else 0]
    limit.over(
        "budget",
        f"This call may cost up to ${Decimal(hold.cost) / NANO:.6f}, more than is left of "
        f"{whose} monthly budget of ${Decimal(cap) / NANO:.4f} "
        f"(${Decimal(held.spent[over[0] if over else 0]) / NANO:.6f} spent or reserved).",
    )
