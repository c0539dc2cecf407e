"""The OAuth endpoints as a client application sees them: token, revoke, introspect."""

from __future__ import annotations

import socket

import pytest
from django.test import override_settings

from keys.tokens import verify_access_token
from tests.factories import DEFAULT_SECRET, ApplicationFactory, SubscriptionFactory
from tests.keys.conftest import OAuthClient, basic

pytestmark = pytest.mark.django_db


def test_client_credentials_by_basic_issue_an_encrypted_token(oauth, application):
    response = oauth.token(application)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "weather"
    assert body["access_token"].count(".") == 4
    assert response["Cache-Control"] == "no-store"
    claims = verify_access_token(body["access_token"])
    assert (claims.client_id, claims.scope) == (application.client_id, ("weather",))


def test_client_credentials_in_form_fields_are_accepted(oauth, application):
    response = oauth.post(
        "/oauth/token",
        {
            "grant_type": "client_credentials",
            "client_id": application.client_id,
            "client_secret": DEFAULT_SECRET,
        },
    )

    assert response.status_code == 200


def test_wrong_secret_answers_invalid_client_with_basic_challenge(oauth, application):
    response = oauth.token(application, secret="pcs_wrong")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")
    assert response["Cache-Control"] == "no-store"


def test_unknown_client_answers_invalid_client(oauth):
    response = oauth.post(
        "/oauth/token",
        {"grant_type": "client_credentials"},
        Authorization=basic("pci_nobody"),
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_missing_client_authentication_answers_invalid_client(oauth):
    response = oauth.post("/oauth/token", {"grant_type": "client_credentials"})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_two_client_authentication_methods_answer_invalid_request(oauth, application):
    response = oauth.post(
        "/oauth/token",
        {"grant_type": "client_credentials", "client_id": application.client_id},
        Authorization=basic(application.client_id),
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_other_grant_types_answer_unsupported_grant_type(oauth, application):
    response = oauth.token(application, grant_type="password")

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_missing_grant_type_answers_invalid_request(oauth, application):
    response = oauth.post("/oauth/token", {}, Authorization=basic(application.client_id))

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "The grant_type parameter is required.",
    }


def test_repeated_parameter_answers_invalid_request(oauth, application):
    form = [("grant_type", "client_credentials"), ("scope", "weather"), ("scope", "weather")]
    response = oauth.post("/oauth/token", form, Authorization=basic(application.client_id))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_json_body_answers_invalid_request(oauth, application):
    response = oauth.http.post(
        "/oauth/token",
        {"grant_type": "client_credentials"},
        content_type="application/json",
        headers={"Authorization": basic(application.client_id)},
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_get_on_token_endpoint_answers_405(oauth):
    response = oauth.http.get("/oauth/token")

    assert response.status_code == 405


def test_scope_of_an_unsubscribed_api_answers_invalid_scope(oauth, application):
    response = oauth.token(application, scope="weather payroll")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert "payroll" in response.json()["error_description"]


def test_requested_scope_narrows_the_token(oauth, application):
    SubscriptionFactory(application=application, api__slug="maps")

    narrowed = oauth.token(application, scope="maps").json()
    everything = oauth.token(application).json()

    assert narrowed["scope"] == "maps"
    assert everything["scope"] == "maps weather"


def test_pending_subscription_is_not_a_scope(oauth, application):
    SubscriptionFactory(application=application, api__slug="maps", status="pending")

    response = oauth.token(application, scope="maps")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_rotated_secret_stops_the_old_one_at_once(oauth, application, alice_client):
    rotated = alice_client.post(f"/api/v1/apps/{application.pk}/rotate-secret/")
    new_secret = rotated.json()["client_secret"]

    assert oauth.token(application).status_code == 401
    assert oauth.token(application, secret=new_secret).status_code == 200


@override_settings(PORTCULLIS={"KEYS": {"CLIENT_AUTH_FAILURE_RATE": "3/m"}})
def test_repeated_failures_are_rate_limited_from_that_address_even_with_the_right_secret(
    oauth, application, manual_clock
):
    for _ in range(3):
        assert oauth.token(application, secret="pcs_guess").status_code == 401

    response = oauth.token(application)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


@override_settings(PORTCULLIS={"KEYS": {"CLIENT_AUTH_FAILURE_RATE": "10/m"}})
def test_a_guesser_who_knows_the_client_id_cannot_lock_its_owner_out(
    oauth, application, manual_clock
):
    for _ in range(10):
        assert oauth.token(application, secret="pcs_guess").status_code == 401

    response = OAuthClient("198.51.100.20").token(application)

    assert oauth.token(application).status_code == 429
    assert response.status_code == 200


@override_settings(
    PORTCULLIS={
        "KEYS": {"CLIENT_AUTH_FAILURE_RATE": "3/m"},
        "GATEWAY": {"TRUSTED_PROXIES": ["203.0.113.0/24"]},
    }
)
def test_behind_a_trusted_proxy_each_client_address_has_its_own_count(
    oauth, application, manual_clock
):
    guesser = {"X-Forwarded-For": "192.0.2.66"}
    for _ in range(3):
        assert oauth.token(application, secret="pcs_guess", headers=guesser).status_code == 401

    assert oauth.token(application, headers=guesser).status_code == 429
    assert oauth.token(application, headers={"X-Forwarded-For": "192.0.2.10"}).status_code == 200


@override_settings(PORTCULLIS={"KEYS": {"CLIENT_AUTH_FAILURE_RATE": "3/m"}})
def test_repeated_failures_are_rate_limited_per_address(oauth, application, bob, manual_clock):
    for number in range(3):
        stranger = ApplicationFactory(owner=bob, name=f"guess-{number}")
        assert oauth.token(stranger, secret="pcs_guess").status_code == 401

    assert oauth.token(application).status_code == 429


def test_successes_are_not_rate_limited(oauth, application):
    for _ in range(15):
        assert oauth.token(application).status_code == 200


def test_revoked_token_is_refused_and_introspects_inactive(oauth, application):
    token = oauth.token(application).json()["access_token"]
    auth = basic(application.client_id)

    revoked = oauth.post("/oauth/revoke", {"token": token}, Authorization=auth)
    introspected = oauth.post("/oauth/introspect", {"token": token}, Authorization=auth)

    assert revoked.status_code == 200
    assert introspected.json() == {"active": False}


def test_revoking_garbage_answers_200(oauth, application):
    response = oauth.post(
        "/oauth/revoke", {"token": "not-a-token"}, Authorization=basic(application.client_id)
    )

    assert response.status_code == 200


def test_a_client_cannot_revoke_another_clients_token(oauth, application, bob):
    token = oauth.token(application).json()["access_token"]
    intruder = ApplicationFactory(owner=bob)

    oauth.post("/oauth/revoke", {"token": token}, Authorization=basic(intruder.client_id))
    own = oauth.post(
        "/oauth/introspect", {"token": token}, Authorization=basic(application.client_id)
    )

    assert own.json()["active"] is True


def test_revoke_requires_client_authentication(oauth, application):
    token = oauth.token(application).json()["access_token"]

    response = oauth.post("/oauth/revoke", {"token": token})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_introspection_of_an_active_token_gives_its_claims(oauth, application):
    token = oauth.token(application).json()["access_token"]

    response = oauth.post(
        "/oauth/introspect", {"token": token}, Authorization=basic(application.client_id)
    )

    body = response.json()
    assert response.status_code == 200
    assert body["active"] is True
    assert body["client_id"] == application.client_id
    assert body["scope"] == "weather"
    assert body["aud"] == "http://127.0.0.1:8000/gw"
    assert body["exp"] - body["iat"] == 900


def test_introspection_hides_another_clients_token(oauth, application, bob):
    token = oauth.token(application).json()["access_token"]
    other = ApplicationFactory(owner=bob)

    response = oauth.post(
        "/oauth/introspect", {"token": token}, Authorization=basic(other.client_id)
    )

    assert response.json() == {"active": False}


def test_introspection_without_token_answers_invalid_request(oauth, application):
    response = oauth.post("/oauth/introspect", {}, Authorization=basic(application.client_id))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_a_cache_that_does_not_answer_makes_the_token_endpoint_answer_503(oauth, application):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    down = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed}/0",
        }
    }
    with override_settings(CACHES=down):
        response = oauth.token(application)

    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert response["Retry-After"]
