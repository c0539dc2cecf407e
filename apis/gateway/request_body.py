"""The client's request body as the gateway reads it: counted, and refused past the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

from apis.conf import gateway_settings
from apis.gateway.context import GatewayContext
from apis.gateway.errors import GatewayError


async def body_chunks(ctx: GatewayContext) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; 413 once more than the limit has arrived."""
    body = ctx.body
    if body is None:
        return
    if isinstance(body, bytes):
        ctx.bytes_read = len(body)
        yield body
        return
    async for chunk in body:
        ctx.bytes_read += len(chunk)
        if ctx.bytes_read > gateway_settings.BODY_LIMIT:
            raise too_large()
        yield chunk


async def read_body(ctx: GatewayContext) -> bytes:
    """The whole body (for the kinds that must parse it), at most the limit."""
    return b"".join([chunk async for chunk in body_chunks(ctx)])


def too_large() -> GatewayError:
    """413 naming the limit."""
    limit = gateway_settings.BODY_LIMIT
    return GatewayError(413, "Request body too large", f"The body limit is {limit} bytes.")
