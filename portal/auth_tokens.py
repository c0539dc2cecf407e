"""The management API's user tokens: `/api/v1/auth/token/` and its refresh.

A refresh token is good for one refresh: it buys an access token and its successor (with the
same expiry: a sign-in lasts REFRESH_TOKEN_LIFETIME at most), and goes on the blacklist. A
token presented twice was copied, so its reuse ends every refresh token of that user. Every
token carries a digest of the user's password hash (simplejwt's CHECK_REVOKE_TOKEN): a
password change ends the user's refresh and access tokens alike.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from portal.password_guard import password_guarded, posted_username
from portal.services import refresh_token_spend, user_refresh_tokens_end


class PasswordTokenSerializer(TokenObtainPairSerializer):
    """simplejwt's pair for a user name and password, announced as a sign-in."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        data = super().validate(attrs)
        # A sign-in like the portal's: the password guard sees it and last_login records it.
        user_logged_in.send(sender=type(self.user), request=self.context["request"], user=self.user)
        return data


class TokenObtainView(TokenObtainPairView):
    """`{"username","password"}` -> `{"access","refresh"}`, behind the password guard."""

    serializer_class = PasswordTokenSerializer


token_obtain = password_guarded(posted_username)(TokenObtainView.as_view())


class _UnspentRefreshToken(RefreshToken):
    """A refresh token checked for signature, expiry and type; the blacklist is checked by
    spending it, atomically, in refresh_token_spend."""

    def check_blacklist(self) -> None:
        return None


class RotatingRefreshSerializer(TokenRefreshSerializer):
    """One refresh per refresh token; a reused one ends all of its user's refresh tokens."""

    token_class = _UnspentRefreshToken

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = self.token_class(attrs["refresh"])
        user = _owner(refresh)
        if not refresh_token_spend(token=refresh):
            user_refresh_tokens_end(user=user)
            raise InvalidToken(
                "This refresh token was used before, so it may have been copied: every refresh "
                "token of this account has ended. Sign in again."
            )
        refresh.set_jti()
        refresh.set_iat()
        refresh.outstand()
        return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _owner(refresh: RefreshToken) -> User:
    """The token's user, while active and with the password the token was issued under."""
    user_id = refresh.payload.get(api_settings.USER_ID_CLAIM)
    user = get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()
    if (
        user is None
        or not api_settings.USER_AUTHENTICATION_RULE(user)
        or refresh.payload.get(api_settings.REVOKE_TOKEN_CLAIM)
        != get_md5_hash_password(user.password)
    ):
        raise InvalidToken("This refresh token no longer opens a session. Sign in again.")
    return user


class TokenRotateView(TokenRefreshView):
    """`{"refresh"}` -> `{"access","refresh"}`; the refresh token given is spent."""

    serializer_class = RotatingRefreshSerializer
