"""Step 3: the calling application holds an active subscription, and its token names the API."""

from __future__ import annotations

from apis.gateway.errors import GatewayError
from apis.models import Api, Subscription
from apis.selectors import gateway_subscription
from keys.bearer import challenge
from keys.tokens import AccessClaims


async def authorize(api: Api, claims: AccessClaims) -> Subscription:
    """The caller's active subscription to the API (its plan with it), or a refusal with 403:
    not subscribed, or out of the token's scope."""
    subscription = await gateway_subscription(application_id=claims.application_id, api_id=api.pk)
    if subscription is None:
        raise GatewayError(
            403,
            "Not subscribed",
            f"Application '{claims.client_id}' has no active subscription to "
            f"'{api.slug}'. Subscribe to one of its plans in the portal.",
        )
    if api.slug not in claims.scope:
        # RFC 6750 §3.1: the token is valid, but was not issued for this API.
        raise GatewayError(
            403,
            "Insufficient scope",
            f"This access token's scope does not include '{api.slug}'. Request a new token "
            f"with scope={api.slug}, or with no scope for every active subscription.",
            headers={"WWW-Authenticate": challenge(error="insufficient_scope", scope=api.slug)},
        )
    return subscription
