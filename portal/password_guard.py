"""One limit on password guessing for every password endpoint, after OWASP's device cookies.

Portal login, admin login, the management API's token endpoint and both password-change forms
count failed passwords in the shared cache. A client without a device cookie for the account
is limited per address and per account; a client holding one (handed out at its last
successful sign-in) is limited only by its own failures, so an attacker exhausting the account's
limit from anywhere never locks out the owner's browser. While limited, a right password is
refused too: the answer must not tell a guesser that this guess was the one.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core import signing
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render

from core.addresses import client_address
from core.attempts import Attempt, Limit, attempt_start
from core.problems import problem_response, wants_problem_json
from portal.conf import portal_settings

DEVICE_COOKIE = "pc_device"
_SALT = "portcullis.password_guard.device"
View = Callable[..., HttpResponseBase]


@dataclass
class Outcome:
    """What the guarded view made of the password: failed, signed someone in, or neither."""

    failed: bool = False
    user: User | None = None


# The outcome of the password check the current request runs, set for the view's duration.
_outcome: ContextVar[Outcome | None] = ContextVar("password_outcome", default=None)


def password_guarded(username_of: Callable[[HttpRequest], str]) -> Callable[[View], View]:
    """Guard a view's POSTs: refuse with 429 while limited, count failures, hand device cookies."""

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method != "POST":
                return view(request, *args, **kwargs)
            username = username_of(request)
            device = _trusted_device(request, username)
            attempt = attempt_start(_limits(request, username, device))
            if attempt.wait:
                return too_many_attempts(request, attempt.wait)
            response, outcome = _run(view, attempt, request, *args, **kwargs)
            if outcome.user is not None:
                _hand_device_cookie(response, outcome.user, device)
            return response

        return guarded

    return decorate


def _run(
    view: View, attempt: Attempt, request: HttpRequest, *args: Any, **kwargs: Any
) -> tuple[HttpResponseBase, Outcome]:
    outcome = Outcome()
    token = _outcome.set(outcome)
    try:
        response = view(request, *args, **kwargs)
    except BaseException:
        attempt.release()  # the server failed, not the password
        raise
    finally:
        _outcome.reset(token)
    if not outcome.failed:
        attempt.release()
    return response, outcome


def password_check_failed() -> None:
    """Count the current request's password as wrong (for checks outside authenticate())."""
    outcome = _outcome.get()
    if outcome is not None:
        outcome.failed = True


@receiver(user_login_failed)
def _on_login_failed(sender: Any, **kwargs: Any) -> None:
    password_check_failed()


@receiver(user_logged_in)
def _on_logged_in(sender: Any, user: User, **kwargs: Any) -> None:
    outcome = _outcome.get()
    if outcome is not None:
        outcome.user = user


def _limits(request: HttpRequest, username: str, device: str) -> list[Limit]:
    if device:
        return [Limit.of(f"password:device:{device}", portal_settings.LOGIN_DEVICE_RATE)]
    return [
        Limit.of(f"password:address:{client_address(request)}", portal_settings.LOGIN_RATE),
        Limit.of(f"password:account:{username}", portal_settings.LOGIN_ACCOUNT_RATE),
    ]


def _trusted_device(request: HttpRequest, username: str) -> str:
    """The id of the request's device cookie when it is valid for this account, else ""."""
    try:
        value = signing.loads(
            request.COOKIES.get(DEVICE_COOKIE, ""),
            salt=_SALT,
            max_age=portal_settings.DEVICE_COOKIE_AGE,
        )
    except signing.BadSignature:
        return ""
    if not isinstance(value, dict) or value.get("user") != username:
        return ""
    return str(value.get("device", ""))


def _hand_device_cookie(response: HttpResponseBase, user: User, device: str) -> None:
    value = {"user": user.get_username(), "device": device or secrets.token_urlsafe(16)}
    response.set_cookie(
        DEVICE_COOKIE,
        signing.dumps(value, salt=_SALT),
        max_age=portal_settings.DEVICE_COOKIE_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def too_many_attempts(request: HttpRequest, wait: int) -> HttpResponse:
    """429 with Retry-After: problem+json on the JSON surfaces, the portal's page elsewhere."""
    headers = {"Retry-After": str(wait)}
    detail = f"Too many failed sign-ins; retry in {wait} s."
    if wants_problem_json(request):
        return problem_response(429, detail, "Too many attempts", headers=headers)
    response = render(request, "portal/429.html", {"wait": wait}, status=429)
    response["Retry-After"] = headers["Retry-After"]
    return response


def posted_username(request: HttpRequest) -> str:
    """The user name a sign-in POST names, from a form or a JSON object; "" when none."""
    field = get_user_model().USERNAME_FIELD
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body)
        except (ValueError, RecursionError):
            return ""
        value = body.get(field) if isinstance(body, dict) else ""
    else:
        try:
            value = request.POST.get(field, "")
        except MultiPartParserError:
            return ""  # DRF's parsers answer 400 or 415 to the same body in the view
    return value if isinstance(value, str) else ""


def signed_in_username(request: HttpRequest) -> str:
    """The user name of the signed-in user, whose password a password change checks."""
    return request.user.get_username() if request.user.is_authenticated else ""
