"""The DRF authentication class of access tokens, for the gateway, MCP and any DRF view."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from keys.errors import InvalidToken
from keys.tokens import AccessClaims, verify_access_token

CHALLENGE = 'Bearer error="invalid_token", error_description="{}"'


@dataclass(frozen=True)
class ClientPrincipal:
    """The caller of a request made with an access token: a client application, not a user."""

    client_id: str
    application_id: int
    is_authenticated: bool = True
    is_staff: bool = False

    def __str__(self) -> str:
        return self.client_id


class AccessTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <access token>` -> (ClientPrincipal, AccessClaims), or 401."""

    require_encrypted = True

    def authenticate(self, request: Request) -> tuple[ClientPrincipal, AccessClaims] | None:
        scheme, _, token = get_authorization_header(request).partition(b" ")
        if scheme.lower() != b"bearer":
            return None
        token_text = token.strip().decode("latin-1")
        if not token_text:
            raise InvalidToken("The bearer token is empty.")
        claims = verify_access_token(token_text, require_encrypted=self.require_encrypted)
        return ClientPrincipal(claims.client_id, claims.application_id), claims

    def authenticate_header(self, request: Request) -> str:
        return CHALLENGE.format("An access token is required.")
