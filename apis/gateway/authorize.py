"""Step 3: the calling application holds an active subscription, and its token names the API."""

from __future__ import annotations

from apis.gateway.context import GatewayContext
from apis.gateway.errors import GatewayError
from apis.selectors import gateway_subscription
from keys.bearer import challenge


async def authorize(ctx: GatewayContext) -> None:
    """Set ctx.subscription and ctx.plan, or refuse with 403 (not subscribed, or out of scope)."""
    subscription = await gateway_subscription(
        application_id=ctx.claims.application_id, api_id=ctx.api.pk
    )
    if subscription is None:
        raise GatewayError(
            403,
            "Not subscribed",
            f"Application '{ctx.claims.client_id}' has no active subscription to "
            f"'{ctx.api.slug}'. Subscribe to one of its plans in the portal.",
        )
    if ctx.api.slug not in ctx.claims.scope:
        # RFC 6750 §3.1: the token is valid, but was not issued for this API.
        raise GatewayError(
            403,
            "Insufficient scope",
            f"This access token's scope does not include '{ctx.api.slug}'. Request a new token "
            f"with scope={ctx.api.slug}, or with no scope for every active subscription.",
            headers={"WWW-Authenticate": challenge(error="insufficient_scope", scope=ctx.api.slug)},
        )
    ctx.subscription = subscription
    ctx.plan = subscription.plan
