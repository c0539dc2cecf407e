"""The gateway pipeline: every call, from /gw or from MCP, runs the same steps in this order."""

from __future__ import annotations

import asyncio
import time

from django.db import DatabaseError

from apis.gateway import capacity
from apis.gateway.account import account
from apis.gateway.authenticate import authenticate
from apis.gateway.authorize import authorize
from apis.gateway.cache import peek_key, serve_cached, store
from apis.gateway.context import AdmittedCall, GatewayCall, GatewayRequest
from apis.gateway.errors import SHARED_CACHE_ERRORS, GatewayError, unavailable
from apis.gateway.forward import check_body_size, check_method, forward
from apis.gateway.limit import limit
from apis.gateway.resolve import resolve
from apis.gateway.respond import CLIENT_CLOSED_REQUEST, GatewayResponse, render_error, respond


async def handle(request: GatewayRequest) -> GatewayResponse:
    """Run the call through every step; closing the answer's body accounts the call.

    A client that goes away before the answer begins cancels this: the upstream call is
    dropped and the call is accounted as 499.
    """
    call = GatewayCall(request, started=time.perf_counter())
    try:
        await run_steps(call)
    except GatewayError as error:
        render_error(call, error)
    except SHARED_CACHE_ERRORS:
        render_error(call, unavailable("The gateway's shared cache does not answer."))
    except DatabaseError:
        # Only a cold lookup reaches the database; warm calls go on being served without it.
        render_error(call, unavailable("The gateway's catalog database does not answer."))
    except asyncio.CancelledError:
        call.outcome.status = CLIENT_CLOSED_REQUEST
        await asyncio.shield(finish(call))
        raise
    return respond(call, on_close=finish)


async def run_steps(call: GatewayCall) -> None:
    """The checks, then the cached answer or the upstream's."""
    admitted = await check(call)
    if call.outcome.cache_status != "HIT":
        await forward(admitted)
        store(admitted)


async def check(call: GatewayCall) -> AdmittedCall:
    """Steps 1-5, in order, each handed what the steps before it established.

    Before forwarding: no database query, no network but Redis, no thread once warm. What a
    check establishes is kept on the call as well, for a refusal's answer and its usage event.
    """
    request = call.request
    api = call.api = await resolve(request)
    check_method(request)
    claims = call.claims = await authenticate(request, api)
    subscription = call.subscription = await authorize(api, claims)
    check_body_size(request)
    admitted = AdmittedCall(request, api, claims, subscription, call.outcome)
    peek = await limit(admitted, peek_key=peek_key(admitted))
    await serve_cached(admitted, peek)
    return admitted


async def finish(call: GatewayCall) -> None:
    """The call is over: its upstream place is free, its usage recorded."""
    capacity.release(call.outcome)
    await account(call)
