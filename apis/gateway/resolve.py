"""Step 1: the slug names a callable API; design is unknown, retired is gone."""

from __future__ import annotations

from apis.gateway.context import GatewayRequest
from apis.gateway.errors import GatewayError, not_found
from apis.models import Api
from apis.selectors import gateway_api
from lifecycle.states import State


async def resolve(request: GatewayRequest) -> Api:
    """The API the slug names, or a refusal: 404 (unknown, in design) or 410 (retired)."""
    api = await gateway_api(request.slug)
    if api is None or api.state == State.DESIGN:
        raise not_found(request.slug)
    if api.state == State.RETIRED:
        raise GatewayError(410, "API retired", f"The API '{request.slug}' has been retired.")
    return api
