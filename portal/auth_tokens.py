"""The management API's user tokens: `/api/v1/auth/token/` and its refresh."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.views import TokenObtainPairView

from portal.password_guard import password_guarded, posted_username


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
