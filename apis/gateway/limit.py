"""Step 4: the plan's rate limit and monthly quotas, counted in the shared cache.

The rate window belongs to the application and the API, the monthly quotas to the application
and the plan: neither starts afresh when a subscription is revoked and taken again. The rate
limit is a fixed window whose edges are offset per application and API (`window_end`), so
that not every client's window turns over in the same second; the window and the quotas
are counted together in one round trip (counters.py), which also fetches the call's cached
answer, under the key the pipeline names, for the cache step. Every counter of an application
carries the hash tag `{app:<id>}`, so on a Redis Cluster the script that counts them finds them
in one slot.
A used-up token quota is refused here; that a call's tokens fit what is left is decided by
its reservation (apis.ai.spend), under the token key made here. A call that reserves is
counted when it does, by the same script: its checks and its reservation are one round trip.
"""

from __future__ import annotations

import calendar
import zlib
from datetime import UTC, datetime
from typing import NoReturn

from apis.conf import gateway_settings
from apis.gateway import alerts, counters, kinds
from apis.gateway.context import AdmittedCall, CachePeek, Policy
from apis.gateway.errors import QUOTA_EXCEEDED, SHARED_CACHE_ERRORS, GatewayError, unavailable
from apis.models import Plan, Subscription, rate_parts
from core.clock import clock

# A counter outlives its window by this much, so a call at the window's edge still finds it.
RATE_FUDGE = 5
MONTH_FUDGE = 86_400


async def limit(call: AdmittedCall, *, peek_key: str = "") -> CachePeek:
    """Count the call and set its RateLimit policies on its outcome (a refusal carries them);
    refuse with 429 over the rate limit or a monthly quota. What the cache holds under
    `peek_key` comes back from the same round trip.

    A call that reserves before it is forwarded (an AI call with a budget or token quota) is
    counted later, with its reservation: one round trip for both (`admit`).
    """
    if not peek_key and kinds.reserves(call):
        call.outcome.limits_pending = True
        return CachePeek()
    counts = await _count(call, _take_for(call.subscription, call.plan, peek_key))
    return CachePeek(peek_key, counts.peeked if counts else None)


async def admit(call: AdmittedCall, hold: counters.Hold | None = None) -> counters.Counts | None:
    """Count the call whose limits `limit` left pending (nothing, if it did not), taking `hold`
    with them, all or nothing; refuse with 429 over the rate limit or a monthly quota. The
    counts, with how the hold went; None when nothing was counted (or the cache fails open).
    """
    if not call.outcome.limits_pending:
        return None
    call.outcome.limits_pending = False
    return await _count(call, _take_for(call.subscription, call.plan, "", hold))


async def _count(call: AdmittedCall, take: counters.Take) -> counters.Counts | None:
    subscription, plan = call.subscription, call.plan
    try:
        counts = await counters.take(take)
    except SHARED_CACHE_ERRORS as exc:
        if gateway_settings.FAIL_OPEN:
            return None
        raise unavailable("Rate limits cannot be checked right now; retry shortly.") from exc
    policies = _policies(subscription, plan, counts)
    call.outcome.policies = policies
    if plan.monthly_quota:
        await alert(
            subscription,
            policy="monthly",
            used=counts.month,
            cap=plan.monthly_quota,
            what=f"the monthly quota of {plan.monthly_quota} requests",
        )
    _refuse_if_over(plan, counts, policies)
    return counts


async def alert(
    subscription: Subscription,
    *,
    policy: str,
    used: int,
    cap: int,
    what: str,
    whole: bool = False,
) -> None:
    """The 80% and 100% alerts of the subscription's application on one of its limits;
    `whole`: its own budget, over every API."""
    await alerts.check(
        application_id=subscription.application_id,
        api_id=None if whole else subscription.api_id,
        policy=policy,
        used=used,
        cap=cap,
        what=what,
        month=month(),
        ttl=month_ttl(),
    )


def spend_keys(subscription: Subscription) -> tuple[str, str, str]:
    """The month's spend of the subscription and of its application, and its plan's tokens.

    One hash tag per application keeps the three in one Redis Cluster slot, for one script.
    """
    tag, this_month = _tag(subscription), month()
    return (
        f"gw:{tag}:spend:api:{subscription.api_id}:{this_month}",
        f"gw:{tag}:spend:{this_month}",
        _token_key(subscription),
    )


def rate_key(subscription: Subscription, rate: str) -> str:
    """The cache key of the current rate window of the application on the API."""
    end = window_end(_rate_value(subscription), rate_parts(rate)[1])
    return f"gw:rate:{_tag(subscription)}:api:{subscription.api_id}:{rate}:{end}"


def window_end(value: str, period: int) -> int:
    """When the current fixed window of `period` seconds of `value` ends (epoch seconds).

    Windows are aligned on the epoch, shifted by an offset that the CRC-32 of `value` fixes,
    so each application's windows turn over in a second of their own.
    """
    now = clock.now()
    if period == 1:
        return now
    end = now - now % period + zlib.crc32(value.encode()) % period
    return end + period if end < now else end


def _tag(subscription: Subscription) -> str:
    return f"{{app:{subscription.application_id}}}"


def _rate_value(subscription: Subscription) -> str:
    return f"app:{subscription.application_id}:api:{subscription.api_id}"


def _take_for(
    subscription: Subscription, plan: Plan, peek_key: str, hold: counters.Hold | None = None
) -> counters.Take:
    count, period = rate_parts(plan.rate_limit)
    return counters.Take(
        rate_key=rate_key(subscription, plan.rate_limit),
        rate_ttl=period + RATE_FUDGE,
        rate_limit=count,
        month_key=f"gw:quota:{_tag(subscription)}:{subscription.plan_id}:{month()}",
        token_key=_token_key(subscription),
        quota=plan.monthly_quota or 0,
        token_quota=plan.token_quota or 0,
        month_ttl=month_ttl(),
        peek_key=peek_key,
        hold=hold,
    )


def _policies(subscription: Subscription, plan: Plan, counts: counters.Counts) -> list[Policy]:
    count, period = rate_parts(plan.rate_limit)
    # The window's last second is `window_end`; the next window opens one second later.
    reset = window_end(_rate_value(subscription), period) + 1 - clock.now()
    policies = [Policy("rate", count, period, max(count - counts.rate, 0), max(reset, 0))]
    if plan.monthly_quota:
        left = max(plan.monthly_quota - counts.month, 0)
        month = Policy("monthly", plan.monthly_quota, month_seconds(), left, to_month_end())
        policies.append(month)
    return policies


def _refuse_if_over(plan: Plan, counts: counters.Counts, policies: list[Policy]) -> None:
    rate_limit = rate_parts(plan.rate_limit)[0]
    if counts.rate > rate_limit:
        over("rate", f"More than {plan.rate_limit} requests.", policies[0].reset)
    if plan.monthly_quota and counts.month > plan.monthly_quota:
        over("monthly", f"The monthly quota of {plan.monthly_quota} requests is used up.")
    if plan.token_quota and counts.tokens >= plan.token_quota:
        over("tokens", f"The monthly quota of {plan.token_quota} AI tokens is used up.")


def over(policy: str, detail: str, retry_after: int | None = None) -> NoReturn:
    """Refuse the call with 429 quota-exceeded, naming the policy it is over."""
    wait = max(retry_after if retry_after is not None else to_month_end(), 1)
    raise GatewayError(
        429,
        "Request cannot be satisfied as assigned quota has been exceeded",
        f"{detail} Retry in {wait} s.",
        headers={"Retry-After": str(wait)},
        type=QUOTA_EXCEEDED,
        **{"violated-policies": [policy]},
    )


def _token_key(subscription: Subscription) -> str:
    # Quotas are the application's on a plan, whichever subscription row carries them.
    return f"gw:tokens:{_tag(subscription)}:{subscription.plan_id}:{month()}"


def month() -> str:
    """The current calendar month (UTC), as YYYY-MM."""
    return clock.utcnow().strftime("%Y-%m")


def month_seconds() -> int:
    """The length of the current calendar month (UTC)."""
    now = clock.utcnow()
    return calendar.monthrange(now.year, now.month)[1] * 86_400


def to_month_end() -> int:
    """Seconds until the current calendar month (UTC) ends."""
    now = clock.utcnow()
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return int((datetime(year, month, 1, tzinfo=UTC) - now).total_seconds()) + 1


def month_ttl() -> int:
    """How long the month's counters are kept."""
    return to_month_end() + MONTH_FUDGE
