"""Step 4: the plan's rate limit and monthly quotas, counted in the shared cache.

The rate window belongs to the application and the API, the monthly quotas to the application
and the plan: neither starts afresh when a subscription is revoked and taken again. The rate
limit is a fixed window, aligned as django-ratelimit aligns its own; the window and the quotas
are counted together in one round trip (counters.py), which also fetches the call's cached
answer for the cache step. Every counter of an application carries the hash tag
`{app:<id>}`, so on a Redis Cluster the script that counts them finds them in one slot.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django_ratelimit.core import EXPIRATION_FUDGE, _get_window

from apis.conf import gateway_settings
from apis.gateway import cache, counters
from apis.gateway.context import GatewayContext
from apis.gateway.errors import QUOTA_EXCEEDED, SHARED_CACHE_ERRORS, GatewayError, unavailable
from apis.models import Subscription, rate_parts

MONTH_FUDGE = 86_400


@dataclass(frozen=True)
class Policy:
    """One quota policy and where the caller stands (IETF httpapi rate-limit headers, -10)."""

    name: str
    quota: int
    window: int
    remaining: int
    reset: int


async def limit(ctx: GatewayContext) -> None:
    """Count the call; refuse with 429 over the rate limit or a monthly quota."""
    peek_key = cache.cache_key(ctx) if cache.cacheable_request(ctx) else ""
    try:
        counts = await counters.take(_take_for(ctx.subscription, ctx.plan, peek_key))
    except SHARED_CACHE_ERRORS as exc:
        if gateway_settings.FAIL_OPEN:
            return
        raise unavailable("Rate limits cannot be checked right now; retry shortly.") from exc
    ctx.cache_entry, ctx.cache_peeked = counts.peeked, bool(peek_key)
    ctx.rate_limit = _policies(ctx, counts)
    _refuse_if_over(ctx, counts)


async def add_tokens(ctx: GatewayContext) -> None:
    """Charge the tokens of an answered AI call to the monthly token counter of its plan."""
    if ctx.subscription is None or not ctx.plan.token_quota:
        return
    tokens = ctx.prompt_tokens + ctx.completion_tokens
    await counters.add_tokens(key=_token_key(ctx.subscription), tokens=tokens, ttl=_month_ttl())


def rate_key(subscription: Subscription, rate: str) -> str:
    """The cache key of the current rate window of the application on the API."""
    window_end = _get_window(_rate_value(subscription), rate_parts(rate)[1])
    return f"gw:rate:{_tag(subscription)}:api:{subscription.api_id}:{rate}:{window_end}"


def _tag(subscription: Subscription) -> str:
    return f"{{app:{subscription.application_id}}}"


def _rate_value(subscription: Subscription) -> str:
    return f"app:{subscription.application_id}:api:{subscription.api_id}"


def _take_for(subscription: Subscription, plan, peek_key: str) -> counters.Take:
    count, period = rate_parts(plan.rate_limit)
    return counters.Take(
        rate_key=rate_key(subscription, plan.rate_limit),
        rate_ttl=period + EXPIRATION_FUDGE,
        rate_limit=count,
        month_key=f"gw:quota:{_tag(subscription)}:{subscription.plan_id}:{_month()}",
        token_key=_token_key(subscription),
        quota=plan.monthly_quota or 0,
        token_quota=plan.token_quota or 0,
        month_ttl=_month_ttl(),
        peek_key=peek_key,
    )


def _policies(ctx: GatewayContext, counts: counters.Counts) -> list[Policy]:
    plan = ctx.plan
    count, period = rate_parts(plan.rate_limit)
    reset = _get_window(_rate_value(ctx.subscription), period) - int(time.time())
    policies = [Policy("rate", count, period, max(count - counts.rate, 0), max(reset, 0))]
    if plan.monthly_quota:
        left = max(plan.monthly_quota - counts.month, 0)
        month = Policy("monthly", plan.monthly_quota, _month_seconds(), left, _to_month_end())
        policies.append(month)
    return policies


def _refuse_if_over(ctx: GatewayContext, counts: counters.Counts) -> None:
    plan = ctx.plan
    rate_limit = rate_parts(plan.rate_limit)[0]
    if counts.rate > rate_limit:
        _over("rate", f"More than {plan.rate_limit} requests.", ctx.rate_limit[0].reset)
    if plan.monthly_quota and counts.month > plan.monthly_quota:
        _over("monthly", f"The monthly quota of {plan.monthly_quota} requests is used up.")
    if plan.token_quota and counts.tokens >= plan.token_quota:
        _over("tokens", f"The monthly quota of {plan.token_quota} AI tokens is used up.")


def _over(policy: str, detail: str, retry_after: int | None = None) -> None:
    wait = max(retry_after if retry_after is not None else _to_month_end(), 1)
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
    return f"gw:tokens:{_tag(subscription)}:{subscription.plan_id}:{_month()}"


def _month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def _month_seconds() -> int:
    now = datetime.now(UTC)
    return calendar.monthrange(now.year, now.month)[1] * 86_400


def _to_month_end() -> int:
    now = datetime.now(UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return int((datetime(year, month, 1, tzinfo=UTC) - now).total_seconds()) + 1


def _month_ttl() -> int:
    return _to_month_end() + MONTH_FUDGE
