"""MCP authorization: the gateway's bearer access token, challenged per RFC 9728 when missing."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from apis.mcp.selectors import application_exists
from keys.bearer import bearer_token
from keys.errors import InvalidToken
from keys.tokens import AccessClaims, averify_access_token


def resource_metadata_url(request: HttpRequest) -> str:
    """Where this resource's RFC 9728 metadata lives."""
    return request.build_absolute_uri(reverse("oauth-protected-resource"))


async def authenticate(request: HttpRequest) -> AccessClaims:
    """The verified claims of the request's bearer token, or InvalidToken naming the metadata."""
    token = bearer_token(request.headers.get("Authorization", ""))
    metadata = resource_metadata_url(request)
    if not token:
        detail = "Send an access token: Authorization: Bearer <token>."
        raise InvalidToken(detail, error="", resource_metadata=metadata)
    try:
        # Encryption is the API's demand, checked again by the gateway for each tool call.
        claims = await averify_access_token(token, require_encrypted=False)
    except InvalidToken as exc:
        raise InvalidToken(exc.detail or str(exc), resource_metadata=metadata) from exc
    if not await application_exists(claims.application_id):
        # A valid signature outlives its application: the token must open nothing then.
        detail = "The token's application no longer exists."
        raise InvalidToken(detail, resource_metadata=metadata)
    return claims
