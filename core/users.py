"""Who is asking: the signed-in user of a request, for views that only serve signed-in users."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from rest_framework.request import Request


def signed_in_user(request: HttpRequest | Request) -> User:
    """The request's user, whom the view's permission or `login_required` has let in."""
    if isinstance(request.user, AnonymousUser):
        raise PermissionDenied
    return request.user
