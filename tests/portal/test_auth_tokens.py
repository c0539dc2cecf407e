"""The management API's user tokens: /api/v1/auth/token/ and its refresh, as a client sees them."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import jwt
import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from portal.tasks import refresh_tokens_forget_expired

pytestmark = pytest.mark.django_db

# The key settings.py used to carry for every install that did not set DJANGO_SECRET_KEY.
PUBLISHED_DEVELOPMENT_KEY = "portcullis-development-secret-key-not-for-production-use-0123456789"


def test_a_token_signed_with_the_once_published_development_key_is_refused(anon_client, staff):
    now = int(time.time())
    claims = {"token_type": "access", "exp": now + 600, "iat": now, "jti": "x", "user_id": staff.pk}
    forged = jwt.encode(claims, PUBLISHED_DEVELOPMENT_KEY, algorithm="HS256")

    response = anon_client.get("/api/v1/apis/", headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401


# Refresh tokens ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fast_hashes(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def sign_in(client, username: str = "alice") -> dict:
    body = {"username": username, "password": "correct-horse-battery"}
    response = client.post("/api/v1/auth/token/", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def refresh(client, token: str):
    return client.post("/api/v1/auth/token/refresh/", {"refresh": token}, format="json")


def calls_with(client, access: str) -> int:
    return client.get("/api/v1/apis/", headers={"Authorization": f"Bearer {access}"}).status_code


def test_a_refresh_gives_a_new_refresh_token_and_the_old_one_is_spent(anon_client, alice):
    first = sign_in(anon_client)["refresh"]

    renewed = refresh(anon_client, first)
    again = refresh(anon_client, first)

    assert renewed.status_code == 200
    assert renewed.json()["refresh"] != first
    assert calls_with(anon_client, renewed.json()["access"]) == 200
    assert again.status_code == 401
    assert again["Content-Type"] == "application/problem+json"


def test_reusing_a_spent_refresh_token_ends_every_refresh_token_of_the_account(anon_client, alice):
    stolen = sign_in(anon_client)["refresh"]
    thief = refresh(anon_client, stolen).json()["refresh"]
    other_session = sign_in(anon_client)["refresh"]

    assert refresh(anon_client, stolen).status_code == 401
    assert refresh(anon_client, thief).status_code == 401
    assert refresh(anon_client, other_session).status_code == 401
    assert refresh(anon_client, sign_in(anon_client)["refresh"]).status_code == 200


def test_a_password_change_ends_refresh_and_access_tokens(anon_client, alice):
    pair = sign_in(anon_client)

    alice.set_password("a-whole-new-passphrase")
    alice.save()

    assert refresh(anon_client, pair["refresh"]).status_code == 401
    assert calls_with(anon_client, pair["access"]) == 401


def test_the_refresh_token_of_a_deleted_or_deactivated_account_is_refused(anon_client, alice, bob):
    alices, bobs = sign_in(anon_client, "alice")["refresh"], sign_in(anon_client, "bob")["refresh"]
    alice.delete()
    bob.is_active = False
    bob.save()

    assert refresh(anon_client, alices).status_code == 401
    assert refresh(anon_client, bobs).status_code == 401


def test_a_rotated_refresh_token_keeps_the_expiry_of_the_sign_in(anon_client, alice):
    first = sign_in(anon_client)["refresh"]
    renewed = refresh(anon_client, first).json()["refresh"]

    assert (
        jwt.decode(renewed, options={"verify_signature": False})["exp"]
        == jwt.decode(first, options={"verify_signature": False})["exp"]
    )


@pytest.mark.django_db(transaction=True)
def test_one_refresh_token_sent_many_times_at_once_refreshes_once(alice):
    token = sign_in(APIClient())["refresh"]

    def attempt(_: int) -> int:
        try:
            return refresh(APIClient(), token).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(attempt, range(8)))

    assert statuses.count(200) == 1


def test_records_of_expired_refresh_tokens_are_forgotten(anon_client, alice):
    sign_in(anon_client)
    OutstandingToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    sign_in(anon_client)

    assert refresh_tokens_forget_expired() == 1
    assert OutstandingToken.objects.count() == 1
