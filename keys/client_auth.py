"""Client authentication at the OAuth endpoints (RFC 6749 §2.3.1), with failures rate-limited.

Failed attempts are counted in the shared cache per client address and per client_id from that
address; once either is over the limit, even correct credentials from that address wait until
the window ends. The guesser is throttled, not the client: the owner, calling from its own
address, is never refused for someone else's failures. No limit per client_id alone is needed
for that: a secret carries 256 random bits, beyond guessing from any number of addresses.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from django.http import HttpRequest

from core.addresses import client_address
from core.attempts import Limit, attempt_start
from core.errors import PortcullisError
from keys.conf import keys_settings
from keys.errors import InvalidClient, OAuthError
from keys.models import Application
from keys.services import application_authenticate


class TooManyAttempts(PortcullisError):
    """Too many failed client authentications: 429 with Retry-After."""

    status = 429
    title = "Too many failed client authentications"


def presented_credentials(request: HttpRequest, form: dict[str, str]) -> tuple[str, str]:
    """The (client_id, client_secret) the request presents, by Basic or by form fields."""
    header = request.headers.get("Authorization", "")
    in_form = "client_id" in form or "client_secret" in form
    if header[:6].lower() == "basic ":
        if in_form:
            raise OAuthError("Use one client authentication method, not two (RFC 6749 §2.3).")
        return _basic(header[6:])
    if not in_form:
        raise InvalidClient("Authenticate the client with HTTP Basic or client_id/client_secret.")
    return form.get("client_id", ""), form.get("client_secret", "")


def _basic(encoded: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClient("The Basic credentials are not valid base64.") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise InvalidClient("The Basic credentials must be client_id:client_secret.")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


def authenticate_client(request: HttpRequest, form: dict[str, str]) -> Application:
    """The authenticated application; InvalidClient or TooManyAttempts otherwise."""
    client_id, secret = presented_credentials(request, form)
    attempt = attempt_start(_limits(client_address(request), client_id))
    if attempt.wait:
        raise TooManyAttempts(
            f"Too many failed client authentications; retry in {attempt.wait} s.",
            headers={"Retry-After": str(attempt.wait)},
        )
    application = application_authenticate(client_id=client_id, client_secret=secret)
    if application is None:
        raise InvalidClient()
    attempt.release()
    return application


def _limits(address: str, client_id: str) -> list[Limit]:
    rate = keys_settings.CLIENT_AUTH_FAILURE_RATE
    return [
        Limit.of(f"client-auth:address:{address}", rate),
        Limit.of(f"client-auth:client:{client_id}:{address}", rate),
    ]
