"""A test helper: a real access token for an application, as the token endpoint issues it."""

from __future__ import annotations

from keys.models import Application
from keys.tokens import issue_access_token


def token_for(application: Application, scope: list[str] | None = None) -> str:
    """An encrypted access token of `application` (scope: its active subscriptions by default)."""
    return issue_access_token(application=application, scope=scope).access_token
