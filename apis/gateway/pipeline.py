"""The gateway pipeline: every call, from /gw or from MCP, runs the same steps in this order."""

from __future__ import annotations

import time

from apis.gateway.account import account
from apis.gateway.authenticate import authenticate
from apis.gateway.authorize import authorize
from apis.gateway.cache import serve_cached, store
from apis.gateway.context import GatewayContext
from apis.gateway.errors import SHARED_CACHE_ERRORS, GatewayError, unavailable
from apis.gateway.forward import check_body_size, forward
from apis.gateway.limit import limit
from apis.gateway.resolve import resolve
from apis.gateway.respond import GatewayResponse, render_error, respond

# Before forwarding: no database query and no network once warm (lookups are cached).
CHECKS = (resolve, authenticate, authorize, check_body_size, limit, serve_cached)


def handle(ctx: GatewayContext) -> GatewayResponse:
    """Run the call through every step; the body accounts the call once it is consumed."""
    ctx.started = ctx.started or time.perf_counter()
    try:
        run_steps(ctx)
    except GatewayError as error:
        render_error(ctx, error)
    except SHARED_CACHE_ERRORS:
        render_error(ctx, unavailable("The gateway's shared cache does not answer."))
    return respond(ctx, on_close=account)


def run_steps(ctx: GatewayContext) -> None:
    """Checks, then the cached answer or the upstream's."""
    for step in CHECKS:
        step(ctx)
    if ctx.cache_status != "HIT":
        forward(ctx)
        store(ctx)
