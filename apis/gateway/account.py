"""Step 7: one usage event per call that names an API and an identified application."""

from __future__ import annotations

import logging

from apis.ai import spend
from apis.gateway.context import GatewayContext
from apis.gateway.errors import SHARED_CACHE_ERRORS
from apis.usage.recorder import UsageRecord, record_usage
from core.clock import clock

logger = logging.getLogger(__name__)


async def account(ctx: GatewayContext) -> None:
    """Settle the call's reservations to what it cost, and record its usage; refusals count
    too."""
    if ctx.api is None or ctx.claims is None:
        return
    try:
        await spend.settle(ctx)
    except SHARED_CACHE_ERRORS:
        # The reservation stays taken: the month's spend reads high, never low.
        logger.warning("request %s not settled: shared cache down", ctx.request_id)
    await record_usage(usage_record(ctx))


def usage_record(ctx: GatewayContext) -> UsageRecord:
    """The usage event of a finished call."""
    return UsageRecord(
        at=clock.utcnow(),
        api_id=ctx.api.pk,
        application_id=ctx.claims.application_id,
        subscription_id=ctx.subscription.pk if ctx.subscription else None,
        **UsageRecord.measures_of(ctx),
    )
