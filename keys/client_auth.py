"""Client authentication at the OAuth endpoints (RFC 6749 §2.3.1), with failures rate-limited.

Failed attempts are counted per client_id and per address with django-ratelimit in the shared
cache; once either is over the limit, even correct credentials wait until the window ends, so
guessing cannot continue from many processes at once.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from django.http import HttpRequest
from django_ratelimit import ALL
from django_ratelimit.core import get_usage

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
    _refuse_when_limited(request, client_id)
    application = application_authenticate(client_id=client_id, client_secret=secret)
    if application is None:
        _count_failure(request, client_id)
        raise InvalidClient()
    return application


def _usages(request: HttpRequest, client_id: str, *, increment: bool) -> list[dict]:
    rate = keys_settings.CLIENT_AUTH_FAILURE_RATE
    keys = {"keys.client-auth.ip": "ip", "keys.client-auth.client": lambda g, r: client_id}
    usages = [
        get_usage(request, group=group, key=key, rate=rate, method=ALL, increment=increment)
        for group, key in keys.items()
    ]
    return [usage for usage in usages if usage]


def _refuse_when_limited(request: HttpRequest, client_id: str) -> None:
    limited = [u for u in _usages(request, client_id, increment=False) if u["count"] >= u["limit"]]
    if limited:
        wait = max(int(u["time_left"]) for u in limited) or 1
        raise TooManyAttempts(
            f"Too many failed client authentications; retry in {wait} s.",
            headers={"Retry-After": str(wait)},
        )


def _count_failure(request: HttpRequest, client_id: str) -> None:
    _usages(request, client_id, increment=True)
