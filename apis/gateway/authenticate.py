"""Step 2: the bearer token is a valid access token (decrypted, verified, not revoked)."""

from __future__ import annotations

import logging

from apis.conf import gateway_settings
from apis.gateway.context import GatewayContext
from apis.gateway.errors import SHARED_CACHE_ERRORS, GatewayError
from keys.bearer import bearer_token
from keys.errors import InvalidToken
from keys.tokens import AccessClaims, averify_access_token

logger = logging.getLogger(__name__)


async def authenticate(ctx: GatewayContext) -> None:
    """Set ctx.claims from the Authorization header, or refuse with 401.

    Claims verified by the caller (MCP) are kept; the API's demand for encryption still holds.
    """
    if ctx.claims is None:
        ctx.claims = await _verified(ctx)
    elif ctx.api.require_encrypted_token and not ctx.claims.encrypted:
        raise _invalid("This API accepts only encrypted access tokens.")


def _token(ctx: GatewayContext) -> str:
    """The bearer token, or for an `ai` API (whose Anthropic SDK sends it so) `x-api-key`."""
    authorization = ctx.header("Authorization")
    token = bearer_token(authorization)
    if token:
        return token
    if ctx.api.kind == "ai" and not authorization.strip() and ctx.header("x-api-key").strip():
        return ctx.header("x-api-key").strip()
    raise _invalid("Send an access token as 'Authorization: Bearer <token>'.")


async def _verified(ctx: GatewayContext) -> AccessClaims:
    token = _token(ctx)
    encrypted = ctx.api.require_encrypted_token
    try:
        try:
            return await averify_access_token(token, require_encrypted=encrypted)
        except SHARED_CACHE_ERRORS:
            if not gateway_settings.FAIL_OPEN:
                raise
            logger.warning("request %s: revocation list unreachable, failing open", ctx.request_id)
            return await averify_access_token(
                token, require_encrypted=encrypted, check_revocation=False
            )
    except InvalidToken as exc:
        raise _refusal(exc) from exc


def _invalid(detail: str) -> GatewayError:
    return _refusal(InvalidToken(detail))


def _refusal(exc: InvalidToken) -> GatewayError:
    return GatewayError(401, exc.title, exc.detail or str(exc), headers=dict(exc.headers))
