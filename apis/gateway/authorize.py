"""Step 3: the calling application holds an active subscription to this API."""

from __future__ import annotations

from apis.gateway.context import GatewayContext
from apis.gateway.errors import GatewayError
from apis.selectors import gateway_subscription


def authorize(ctx: GatewayContext) -> None:
    """Set ctx.subscription and ctx.plan, or refuse with 403."""
    subscription = gateway_subscription(application_id=ctx.claims.application_id, api_id=ctx.api.pk)
    if subscription is None:
        raise GatewayError(
            403,
            "Not subscribed",
            f"Application '{ctx.claims.client_id}' has no active subscription to "
            f"'{ctx.api.slug}'. Subscribe to one of its plans in the portal.",
        )
    ctx.subscription = subscription
    ctx.plan = subscription.plan
