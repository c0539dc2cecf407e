"""The management API's user tokens: /api/v1/auth/token/ and its refresh, as a client sees them."""

from __future__ import annotations

import time

import jwt
import pytest

pytestmark = pytest.mark.django_db

# The key settings.py used to carry for every install that did not set DJANGO_SECRET_KEY.
PUBLISHED_DEVELOPMENT_KEY = "portcullis-development-secret-key-not-for-production-use-0123456789"


def test_a_token_signed_with_the_once_published_development_key_is_refused(anon_client, staff):
    now = int(time.time())
    claims = {"token_type": "access", "exp": now + 600, "iat": now, "jti": "x", "user_id": staff.pk}
    forged = jwt.encode(claims, PUBLISHED_DEVELOPMENT_KEY, algorithm="HS256")

    response = anon_client.get("/api/v1/apis/", headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401
