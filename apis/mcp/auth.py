"""MCP authorization: the gateway's bearer access token, challenged per RFC 9728 when missing."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from apis.mcp.selectors import application_exists
from keys.errors import InvalidToken
from keys.tokens import AccessClaims, averify_access_token


class Unauthorized(Exception):
    """No usable access token: answered 401 with a WWW-Authenticate challenge."""

    def __init__(self, challenge: str, detail: str) -> None:
        super().__init__(detail)
        self.challenge = challenge
        self.detail = detail


def resource_metadata_url(request: HttpRequest) -> str:
    """Where this resource's RFC 9728 metadata lives."""
    return request.build_absolute_uri(reverse("oauth-protected-resource"))


async def authenticate(request: HttpRequest) -> AccessClaims:
    """The verified claims of the request's bearer token, or Unauthorized."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    metadata = f'resource_metadata="{resource_metadata_url(request)}"'
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            f"Bearer {metadata}", "Send an access token: Authorization: Bearer <token>."
        )
    try:
        # Encryption is the API's demand, checked again by the gateway for each tool call.
        claims = await averify_access_token(token.strip(), require_encrypted=False)
    except InvalidToken as exc:
        raise _invalid(exc.detail or str(exc), metadata) from exc
    if not await application_exists(claims.application_id):
        # A valid signature outlives its application: the token must open nothing then.
        raise _invalid("The token's application no longer exists.", metadata)
    return claims


def _invalid(reason: str, metadata: str) -> Unauthorized:
    reason = reason.replace('"', "'")
    challenge = f'Bearer error="invalid_token", error_description="{reason}", {metadata}'
    return Unauthorized(challenge, reason)
