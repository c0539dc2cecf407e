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
    too. On Redis the settlement rides with the usage event: one round trip for both."""
    api, claims, subscription = call.api, call.claims, call.subscription
    if api is None or claims is None:
        return
    settlements = []
    if subscription is not None:
        settlements = await _settlements(
            AdmittedCall(call.request, api, claims, subscription, call.outcome)
        )
    scripts = [script for settlement in settlements for script in settlement.scripts]
    replies = await record_usage(usage_record(call, api, claims), alongside=scripts)
    for settlement in settlements:
        count = len(settlement.scripts)
        await settlement.then(replies[:count])
        replies = replies[count:]


async def _settlements(call: AdmittedCall) -> list[kinds.Settlement]:
    try:
        return await kinds.settlements(call)
    except SHARED_CACHE_ERRORS:
        # The reservation stays taken: the month's spend reads high, never low.
        logger.warning("request %s not settled: shared cache down", call.request.request_id)
        return []


def usage_record(call: GatewayCall, api: Api, claims: AccessClaims) -> UsageRecord:
    """The usage event of a finished call."""
    return UsageRecord(
        at=clock.utcnow(),
        api_id=api.pk,
        application_id=claims.application_id,
        subscription_id=call.subscription.pk if call.subscription else None,
        **UsageRecord.measures_of(call),
    )
