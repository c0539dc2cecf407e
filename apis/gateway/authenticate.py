"""Step 2: the bearer token is a valid access token (decrypted, verified, not revoked)."""

from __future__ import annotations

import logging

from apis.conf import gateway_settings
from apis.gateway.context import GatewayRequest
from apis.gateway.errors import SHARED_CACHE_ERRORS, GatewayError
from apis.models import Api
from keys.bearer import bearer_token
from keys.errors import InvalidToken
from keys.tokens import AccessClaims, averify_access_token

logger = logging.getLogger(__name__)


async def authenticate(request: GatewayRequest, api: Api) -> AccessClaims:
    """The claims of the Authorization header's token, or a refusal with 401.

    Claims verified by the caller (MCP) are kept; the API's demand for encryption still holds.
    """
    claims = request.verified_claims
    if claims is None:
        return await _verified(request, api)
    if api.require_encrypted_token and not claims.encrypted:
        raise _invalid("This API accepts only encrypted access tokens.")
    return claims


def _token(request: GatewayRequest, api: Api) -> str:
    """The bearer token, or for an `ai` API (whose Anthropic SDK sends it so) `x-api-key`."""
    authorization = request.header("Authorization")
    token = bearer_token(authorization)
    if token:
        return token
    api_key = request.header("x-api-key").strip()
    if api.kind == "ai" and not authorization.strip() and api_key:
        return api_key
    raise _invalid("Send an access token as 'Authorization: Bearer <token>'.")


async def _verified(request: GatewayRequest, api: Api) -> AccessClaims:
    token = _token(request, api)
    encrypted = api.require_encrypted_token
    try:
        try:
            return await averify_access_token(token, require_encrypted=encrypted)
        except SHARED_CACHE_ERRORS:
            if not gateway_settings.FAIL_OPEN:
                raise
            request_id = request.request_id
            logger.warning("request %s: revocation list unreachable, failing open", request_id)
            return await averify_access_token(
                token, require_encrypted=encrypted, check_revocation=False
            )
    except InvalidToken as exc:
        raise _refusal(exc) from exc


def _invalid(detail: str) -> GatewayError:
    return _refusal(InvalidToken(detail))


def _refusal(exc: InvalidToken) -> GatewayError:
    return GatewayError(401, exc.title, exc.detail or str(exc), headers=dict(exc.headers))
