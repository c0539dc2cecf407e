"""The gateway pipeline: every call, from /gw or from MCP, runs the same steps in this order."""

from __future__ import annotations

import asyncio
import time

from django.db import DatabaseError

from apis.gateway import capacity
from apis.gateway.account import account
from apis.gateway.authenticate import authenticate
from apis.gateway.authorize import authorize
from apis.gateway.cache import serve_cached, store
from apis.gateway.context import GatewayContext
from apis.gateway.errors import SHARED_CACHE_ERRORS, GatewayError, unavailable
from apis.gateway.forward import check_body_size, check_method, forward
from apis.gateway.limit import limit
from apis.gateway.resolve import resolve
from apis.gateway.respond import CLIENT_CLOSED_REQUEST, GatewayResponse, render_error, respond

# Before forwarding: no database query, no network but Redis, no thread once warm.
CHECKS = (resolve, check_method, authenticate, authorize, check_body_size, limit, serve_cached)


async def handle(ctx: GatewayContext) -> GatewayResponse:
    """Run the call through every step; closing the answer's body accounts the call.

    A client that goes away before the answer begins cancels this: the upstream call is
    dropped and the call is accounted as 499.
    """
    ctx.started = ctx.started or time.perf_counter()
    try:
        await run_steps(ctx)
    except GatewayError as error:
        render_error(ctx, error)
    except SHARED_CACHE_ERRORS:
        render_error(ctx, unavailable("The gateway's shared cache does not answer."))
    except DatabaseError:
        # Only a cold lookup reaches the database; warm calls go on being served without it.
        render_error(ctx, unavailable("The gateway's catalog database does not answer."))
    except asyncio.CancelledError:
        ctx.status = CLIENT_CLOSED_REQUEST
        await asyncio.shield(finish(ctx))
        raise
    return respond(ctx, on_close=finish)


async def run_steps(ctx: GatewayContext) -> None:
    """Checks, then the cached answer or the upstream's."""
    for step in CHECKS:
        await step(ctx)
    if ctx.cache_status != "HIT":
        await forward(ctx)
        store(ctx)


async def finish(ctx: GatewayContext) -> None:
    """The call is over: its upstream place is free, its usage recorded."""
    capacity.release(ctx)
    await account(ctx)
