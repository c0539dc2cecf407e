"""Issuing and verifying access tokens: format, lifetime, revocation, the claims cache."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys

import pytest
from django.test import override_settings
from joserfc import jwe

from keys import keyring, tokens
from keys.errors import InvalidToken
from keys.models import TokenKey
from keys.services import token_keys_rotate
from keys.tokens import (
    averify_access_token,
    forget_verified_claims,
    issue_access_token,
    revoke_access_token,
    verify_access_token,
)
from tests.asgi import in_a_loop_of_its_own
from tests.tokens import token_for

pytestmark = pytest.mark.django_db


def _header(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _signed_part(token: str) -> str:
    key = keyring.current().lookup(_header(token.split(".")[0])["kid"], "enc")
    return jwe.decrypt_compact(token, key.key, algorithms=[key.alg, "A256GCM"]).plaintext.decode()


def test_token_is_a_jwe_of_a_jws_with_our_kids(application):
    token = token_for(application)

    outer = _header(token.split(".")[0])
    inner = _header(_signed_part(token).split(".")[0])

    assert outer.keys() == {"alg", "enc", "cty", "kid", "epk"}
    assert (outer["alg"], outer["enc"], outer["cty"]) == ("ECDH-ES+A256KW", "A256GCM", "JWT")
    assert inner == {"alg": "ES256", "typ": "at+jwt", "kid": inner["kid"]}
    kids = set(TokenKey.objects.values_list("kid", flat=True))
    assert {outer["kid"], inner["kid"]} <= kids


def test_claims_follow_rfc_9068(application):
    signed = _signed_part(token_for(application))
    payload = json.loads(base64.urlsafe_b64decode(signed.split(".")[1] + "=="))

    assert payload["iss"] == "http://127.0.0.1:8000"
    assert payload["aud"] == "http://127.0.0.1:8000/gw"
    assert payload["sub"] == payload["client_id"] == application.client_id
    assert payload["scope"] == "weather"
    assert payload["exp"] - payload["iat"] == 900
    assert payload["nbf"] == payload["iat"]
    assert len(payload["jti"]) >= 32


def test_claims_are_not_readable_without_the_gateway_key(application):
    token = token_for(application)

    assert application.client_id not in token
    for segment in token.split("."):
        decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        assert application.client_id.encode() not in decoded


@pytest.mark.parametrize(
    ("sig", "enc"),
    [
        ("RS256", "RSA-OAEP-256"),
        ("EdDSA", "ECDH-ES+A256KW"),
        ("Ed25519", "ECDH-ES+A256KW"),
        ("ES256", "RSA-OAEP-256"),
    ],
)
def test_other_selectable_algorithms_issue_and_verify(application, sig, enc):
    with override_settings(PORTCULLIS={"KEYS": {"SIGNING_ALG": sig, "ENCRYPTION_ALG": enc}}):
        token_keys_rotate()
        token = token_for(application)

        assert _header(token.split(".")[0])["alg"] == enc
        assert _header(_signed_part(token).split(".")[0])["alg"] == sig
        assert verify_access_token(token).client_id == application.client_id


def test_token_expires_after_its_lifetime_plus_leeway(application, manual_clock):
    token = token_for(application)
    verify_access_token(token)

    manual_clock.advance(900 + 29)
    verify_access_token(token)
    manual_clock.advance(1)

    with pytest.raises(InvalidToken, match="expired"):
        verify_access_token(token)


@override_settings(PORTCULLIS={"KEYS": {"ACCESS_TOKEN_LIFETIME": 60}})
def test_lifetime_is_configurable(application):
    issued = issue_access_token(application=application)

    claims = verify_access_token(issued.access_token)
    assert issued.expires_in == 60
    assert claims.exp - claims.iat == 60


def test_revoked_token_is_refused_at_once_in_the_same_process(application):
    token = token_for(application)
    claims = verify_access_token(token)

    revoke_access_token(claims)

    with pytest.raises(InvalidToken, match="revoked"):
        verify_access_token(token)


def test_other_tokens_of_the_client_survive_a_revocation(application):
    revoked, kept = token_for(application), token_for(application)

    revoke_access_token(verify_access_token(revoked))

    assert verify_access_token(kept).client_id == application.client_id


def test_revocation_in_another_process_is_seen_within_the_poll_interval(
    application, manual_clock, settings
):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: processes share revocations only through Redis")
    token = token_for(application)
    claims = verify_access_token(token)  # warm: claims cached, jti known unrevoked
    _revoke_in_another_process(claims.jti, claims.exp)

    verify_access_token(token)  # still within this process's poll interval
    manual_clock.advance(0.5)

    with pytest.raises(InvalidToken, match="revoked"):
        verify_access_token(token)


def _revoke_in_another_process(jti: str, exp: int) -> None:
    code = (
        "import django; django.setup();"
        "from keys.revocation import revocations;"
        f"revocations.revoke({jti!r}, exp={exp})"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)


def test_plain_jws_is_refused_where_encryption_is_required(application):
    signed = _signed_part(token_for(application))

    with pytest.raises(InvalidToken, match="encrypted"):
        verify_access_token(signed)
    assert verify_access_token(signed, require_encrypted=False).encrypted is False


def test_warm_verification_skips_the_cryptography(application, monkeypatch):
    token = token_for(application)
    verify_access_token(token)
    monkeypatch.setattr(jwe, "decrypt_compact", _explode)

    assert verify_access_token(token).client_id == application.client_id


def _explode(*args, **kwargs):
    raise AssertionError("the cryptography ran again")


def test_warm_verification_touches_no_database(application, django_assert_num_queries):
    token = token_for(application)
    verify_access_token(token)

    with django_assert_num_queries(0):
        verify_access_token(token)


def test_cold_verification_with_known_keys_touches_no_database(
    application, django_assert_num_queries
):
    first, second = token_for(application), token_for(application)
    verify_access_token(first)

    with django_assert_num_queries(0):
        verify_access_token(second)


def test_keys_are_created_on_first_use(application):
    TokenKey.objects.all().delete()
    keyring.forget()

    token_for(application)

    assert set(TokenKey.objects.values_list("use", "status")) == {
        ("sig", "active"),
        ("enc", "active"),
    }


@pytest.mark.django_db(transaction=True)
def test_a_new_token_brought_by_many_calls_at_once_is_verified_once(application, monkeypatch):
    token = token_for(application)
    forget_verified_claims()
    verified = []
    verify_cold = tokens._verify_cold
    monkeypatch.setattr(tokens, "_verify_cold", lambda t: verified.append(t) or verify_cold(t))

    async def burst():
        return await asyncio.gather(*(averify_access_token(token) for _ in range(50)))

    claims = in_a_loop_of_its_own(burst)

    assert len(verified) == 1, "each call decrypted and verified the token on its own"
    assert len(claims) == 50
    assert {c.jti for c in claims} == {claims[0].jti}


@pytest.mark.django_db(transaction=True)
def test_a_bad_token_brought_by_many_calls_at_once_refuses_each_of_them():
    async def burst():
        return await asyncio.gather(
            *(averify_access_token("not.a.token") for _ in range(5)), return_exceptions=True
        )

    refusals = in_a_loop_of_its_own(burst)

    assert [type(r) for r in refusals] == [InvalidToken] * 5
