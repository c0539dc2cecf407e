"""Bearer tokens in requests (RFC 6750): the token of a header, and the challenge of a refusal."""

from __future__ import annotations


def bearer_token(authorization: str) -> str:
    """The token of an `Authorization: Bearer <token>` value; empty when it carries none."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def challenge(*, error: str = "", description: str = "", **params: str) -> str:
    """The `WWW-Authenticate: Bearer` challenge (RFC 6750 §3) of a refusal.

    No `error` (nor description) for a request that carried no credentials (§3.1); `params`
    add attributes such as `scope` or RFC 9728's `resource_metadata`. Double quotes in the
    description become single ones, since the value is a quoted-string.
    """
    reason = description.replace('"', "'") if error else ""
    attributes = {"error": error, "error_description": reason, **params}
    listed = ", ".join(f'{name}="{value}"' for name, value in attributes.items() if value)
    return f"Bearer {listed}" if listed else "Bearer"
