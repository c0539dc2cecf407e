"""The DRF authentication class: the bearer access token names the calling application."""

from __future__ import annotations

import pytest
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from keys.authentication import AccessTokenAuthentication
from keys.tokens import revoke_access_token, verify_access_token
from tests.tokens import token_for

pytestmark = pytest.mark.django_db


class WhoAmI(APIView):
    authentication_classes = [AccessTokenAuthentication]

    def get(self, request):
        return Response({"client_id": request.user.client_id, "scope": list(request.auth.scope)})


def _get(**headers):
    return WhoAmI.as_view()(APIRequestFactory().get("/", **headers)).render()


def test_bearer_token_authenticates_the_application(application):
    response = _get(HTTP_AUTHORIZATION=f"Bearer {token_for(application)}")

    assert response.status_code == 200
    assert response.data == {"client_id": application.client_id, "scope": ["weather"]}


def test_no_token_answers_401_with_a_bearer_challenge(application):
    response = _get()

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_answers_401_invalid_token(application):
    token = token_for(application)
    revoke_access_token(verify_access_token(token))

    response = _get(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert "revoked" in response.data["detail"]
