"""Errors of the keys app: an unusable access token, and OAuth 2.0 errors (RFC 6749 §5.2)."""

from __future__ import annotations

from core.errors import PortcullisError
from keys.bearer import challenge


class InvalidToken(PortcullisError):
    """The bearer token cannot be accepted; 401 with an RFC 6750 challenge.

    `error` is empty when the request carried no token at all (RFC 6750 §3.1); `params` are
    further attributes of the challenge.
    """

    status = 401
    title = "Invalid token"

    def __init__(self, detail: str, *, error: str = "invalid_token", **params: str) -> None:
        refusal = challenge(error=error, description=detail, **params)
        super().__init__(detail, headers={"WWW-Authenticate": refusal})


class OAuthError(PortcullisError):
    """An error of the OAuth endpoints, rendered as `{"error", "error_description"}`."""

    status = 400
    error = "invalid_request"

    def __init__(self, detail: str, *, error: str | None = None, status: int | None = None):
        super().__init__(detail, status=status)
        self.error = error or self.error

    def body(self) -> dict[str, str]:
        """The RFC 6749 §5.2 response body."""
        return {"error": self.error, "error_description": self.detail}


class InvalidClient(OAuthError):
    """Client authentication failed (RFC 6749 §5.2): 401 with a Basic challenge."""

    status = 401
    error = "invalid_client"

    def __init__(self, detail: str = "Client authentication failed.") -> None:
        super().__init__(detail)
        self.headers = {"WWW-Authenticate": 'Basic realm="portcullis"'}


class InvalidScope(OAuthError):
    """A requested scope is not one of the application's active subscriptions."""

    error = "invalid_scope"
