"""Step 7: one usage event per call that names an API and an identified application."""

from __future__ import annotations

import logging

from apis.gateway import kinds
from apis.gateway.context import AdmittedCall, GatewayCall
from apis.gateway.errors import SHARED_CACHE_ERRORS
from apis.models import Api
from apis.usage.recorder import UsageRecord, record_usage
from core.clock import clock
from keys.tokens import AccessClaims

logger = logging.getLogger(__name__)


async def account(call: GatewayCall) -> None:
    """Settle the call's reservations to what it cost, and record its usage; refusals count
    too."""
    api, claims, subscription = call.api, call.claims, call.subscription
    if api is None or claims is None:
        return
    if subscription is not None:
        await _settle(AdmittedCall(call.request, api, claims, subscription, call.outcome))
    await record_usage(usage_record(call, api, claims))


async def _settle(call: AdmittedCall) -> None:
    try:
        await kinds.settle(call)
    except SHARED_CACHE_ERRORS:
        # The reservation stays taken: the month's spend reads high, never low.
        logger.warning("request %s not settled: shared cache down", call.request.request_id)


def usage_record(call: GatewayCall, api: Api, claims: AccessClaims) -> UsageRecord:
    """The usage event of a finished call."""
    outcome = call.outcome
    return UsageRecord(
        at=clock.utcnow(),
        api_id=api.pk,
        application_id=claims.application_id,
        subscription_id=call.subscription.pk if call.subscription else None,
        status=outcome.status,
        latency_ms=outcome.latency_ms,
        bytes_in=call.bytes_in,
        bytes_out=outcome.bytes_out,
        prompt_tokens=outcome.prompt_tokens,
        completion_tokens=outcome.completion_tokens,
        cost=outcome.cost,
        channel=call.request.channel,
        request_id=call.request.request_id,
        model=outcome.model_used,
        cache_read_tokens=outcome.cache_read_tokens,
        cache_write_tokens=outcome.cache_write_tokens,
        reasoning_tokens=outcome.reasoning_tokens,
        estimated=outcome.tokens_estimated,
        cached=outcome.answer_cached,
    )
