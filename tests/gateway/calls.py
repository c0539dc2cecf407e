"""Gateway calls built in tests, to run one step or one forwarder on its own."""

from __future__ import annotations

from apis.gateway.context import AdmittedCall, GatewayRequest, Outcome
from apis.models import Api, Subscription
from keys.tokens import AccessClaims


def admitted_call(*, method: str, slug: str, api: Api, subscription: Subscription) -> AdmittedCall:
    """A call as the checks let it through: the API, its subscription and claims naming them."""
    claims = AccessClaims(
        client_id="test",
        application_id=subscription.application_id or 0,
        scope=(slug,),
        jti="test",
        exp=0,
        iat=0,
        aud="",
        encrypted=True,
    )
    return AdmittedCall(GatewayRequest(method, slug), api, claims, subscription, Outcome())
