"""Token keys: stored encrypted, published without private parts, rotated without downtime."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from cryptography.exceptions import InvalidTag
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from keys import keyring
from keys.errors import InvalidToken
from keys.kek import seal, unseal
from keys.models import TokenKey
from keys.services import token_keys_retire_expired, token_keys_rotate
from keys.tokens import verify_access_token
from tests.tokens import token_for

pytestmark = pytest.mark.django_db

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


def test_private_parts_are_encrypted_at_rest(application):
    token_for(application)

    for row in TokenKey.objects.all():
        assert row.private_sealed.startswith("v1.")
        assert '"d"' not in row.private_sealed
        assert not PRIVATE_MEMBERS & row.public_jwk.keys()


def test_stored_keys_do_not_open_under_another_kek(application):
    token_for(application)
    row = TokenKey.objects.first()

    other_kek = override_settings(PORTCULLIS={"KEYS": {"KEK": "another-key-encryption-key"}})
    with other_kek, pytest.raises(InvalidTag):
        unseal(row.private_sealed, purpose=f"token-key:{row.kid}")


def test_a_sealed_secret_is_bound_to_its_purpose():
    sealed = seal(b"provider-api-key", purpose="token-key:one")

    assert unseal(sealed, purpose="token-key:one") == b"provider-api-key"
    with pytest.raises(InvalidTag):
        unseal(sealed, purpose="token-key:two")


def test_jwks_publishes_public_signing_and_encryption_keys(client, application):
    token_for(application)

    response = client.get("/.well-known/jwks.json")

    keys = response.json()["keys"]
    assert response.status_code == 200
    assert {(k["use"], k["alg"]) for k in keys} == {("sig", "ES256"), ("enc", "ECDH-ES+A256KW")}
    assert all(k["kid"] for k in keys)
    assert not any(PRIVATE_MEMBERS & k.keys() for k in keys)


def test_authorization_server_metadata_names_the_endpoints(client):
    response = client.get("/.well-known/oauth-authorization-server")

    body = response.json()
    assert body["issuer"] == "http://127.0.0.1:8000"
    assert body["token_endpoint"] == "http://127.0.0.1:8000/oauth/token"
    assert body["revocation_endpoint"] == "http://127.0.0.1:8000/oauth/revoke"
    assert body["introspection_endpoint"] == "http://127.0.0.1:8000/oauth/introspect"
    assert body["jwks_uri"] == "http://127.0.0.1:8000/.well-known/jwks.json"
    assert body["grant_types_supported"] == ["client_credentials"]


def test_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_new_keys(application):
    old_token = token_for(application)
    old_kids = set(TokenKey.objects.values_list("kid", flat=True))

    token_keys_rotate()
    new_token = token_for(application)

    assert verify_access_token(old_token).client_id == application.client_id
    assert verify_access_token(new_token).client_id == application.client_id
    active = set(TokenKey.objects.filter(status="active").values_list("kid", flat=True))
    retiring = set(TokenKey.objects.filter(status="retiring").values_list("kid", flat=True))
    assert retiring == old_kids
    assert not active & old_kids


def test_jwks_lists_retiring_keys_until_they_retire(client, application):
    token_for(application)
    token_keys_rotate()

    kids = {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]}
    assert kids == set(TokenKey.objects.values_list("kid", flat=True))

    token_keys_retire_expired(now=timezone.now() + timedelta(seconds=931))
    kids = {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]}
    assert kids == set(TokenKey.objects.filter(status="active").values_list("kid", flat=True))


def test_retired_keys_stop_verifying_after_the_longest_lifetime(application):
    old_token = token_for(application)
    token_keys_rotate()

    retired = token_keys_retire_expired(now=timezone.now() + timedelta(seconds=931))

    assert retired == 2
    with pytest.raises(InvalidToken, match="does not hold"):
        verify_access_token(old_token)


def test_retiring_keys_are_not_retired_early(application):
    token_for(application)
    token_keys_rotate()

    assert token_keys_retire_expired(now=timezone.now() + timedelta(seconds=900)) == 0


def test_rotate_keys_command_adds_new_active_keys(application):
    token_for(application)
    out = StringIO()

    call_command("rotate_keys", stdout=out)

    assert TokenKey.objects.filter(status="active").count() == 2
    assert TokenKey.objects.filter(status="retiring").count() == 2
    assert "active sig key" in out.getvalue()
    assert "active enc key" in out.getvalue()


def test_another_process_sees_rotated_keys(application):
    token_for(application)
    stale = keyring.current()

    token_keys_rotate()

    assert keyring.current().version != stale.version
    assert keyring.current().active("sig").kid != stale.active("sig").kid
