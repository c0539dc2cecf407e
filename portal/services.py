"""Writes of the portal's accounts: the management API's refresh tokens."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken


@transaction.atomic
def refresh_token_spend(*, token: RefreshToken) -> bool:
    """Put the token on the blacklist; False when it was there already (it is being reused)."""
    # simplejwt annotates outstand() as Optional[OutstandingToken]; it returns get_or_create's
    # (token, created) pair.
    outstanding, _ = token.outstand()  # type: ignore[misc]
    # One row per token (a one-to-one key): of two requests spending it at once, one creates.
    _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
    return created


@transaction.atomic
def user_refresh_tokens_end(*, user: User) -> int:
    """Blacklist every refresh token of the user still open; how many were."""
    still_open = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    ended = [BlacklistedToken(token=token) for token in still_open]
    BlacklistedToken.objects.bulk_create(ended, ignore_conflicts=True)
    return len(ended)


def refresh_tokens_forget_expired() -> int:
    """Delete the records of refresh tokens past their expiry (their blacklisting goes too)."""
    deleted, _ = OutstandingToken.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
