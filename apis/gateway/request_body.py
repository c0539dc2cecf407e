"""The client's request body as the gateway reads it: counted, and refused past the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

from apis.conf import gateway_settings
from apis.gateway.context import AdmittedCall
from apis.gateway.errors import GatewayError


async def body_chunks(call: AdmittedCall) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive, counted; 413 once more than the limit has arrived."""
    body, outcome = call.request.body, call.outcome
    if body is None:
        return
    if isinstance(body, bytes):
        outcome.bytes_read = len(body)
        yield body
        return
    async for chunk in body:
        outcome.bytes_read += len(chunk)
        if outcome.bytes_read > gateway_settings.BODY_LIMIT:
            raise too_large()
        yield chunk


async def read_body(call: AdmittedCall) -> bytes:
    """The whole body (for the kinds that must parse it), at most the limit."""
    return b"".join([chunk async for chunk in body_chunks(call)])


def too_large() -> GatewayError:
    """413 naming the limit."""
    limit = gateway_settings.BODY_LIMIT
    return GatewayError(413, "Request body too large", f"The body limit is {limit} bytes.")
