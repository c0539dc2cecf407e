"""Step 1: the slug names a callable API; design is unknown, retired is gone."""

from __future__ import annotations

from apis.gateway.context import GatewayContext
from apis.gateway.errors import GatewayError, not_found
from apis.selectors import gateway_api
from lifecycle.states import State


async def resolve(ctx: GatewayContext) -> None:
    """Set ctx.api, or refuse with 404 (unknown, in design) or 410 (retired)."""
    api = await gateway_api(ctx.slug)
    if api is None or api.state == State.DESIGN:
        raise not_found(ctx.slug)
    if api.state == State.RETIRED:
        raise GatewayError(410, "API retired", f"The API '{ctx.slug}' has been retired.")
    ctx.api = api
