"""Password guessing at every password endpoint: one limit per address and per account,
that a right password cannot bypass and a guesser cannot turn against the account's owner."""

from __future__ import annotations

import json

import pytest
from django.conf import settings as django_settings
from django.test import Client

from portal.password_guard import DEVICE_COOKIE

pytestmark = pytest.mark.django_db

RIGHT = "correct-horse-battery"


def portal_login(client: Client, username: str, password: str) -> int:
    return client.post("/accounts/login/", {"username": username, "password": password}).status_code


def admin_login(client: Client, username: str, password: str) -> int:
    form = {"username": username, "password": password, "next": "/admin/"}
    return client.post("/admin/login/", form).status_code


def api_token(client: Client, username: str, password: str) -> int:
    body = json.dumps({"username": username, "password": password})
    return client.post("/api/v1/auth/token/", body, content_type="application/json").status_code


SIGNED_IN = {portal_login: 302, admin_login: 302, api_token: 200}
WRONG = {portal_login: 200, admin_login: 200, api_token: 401}
ENDPOINTS = pytest.mark.parametrize("endpoint", list(SIGNED_IN), ids=lambda e: e.__name__)


@pytest.fixture(autouse=True)
def _fast_hashes(settings):
    # Hundreds of password checks: the production hasher's cost would only slow them down.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _still_clock(manual_clock):
    # Failures are counted in windows of the project's clock: held still, no test straddles two.
    return manual_clock


def sign_out(client: Client) -> None:
    """Drop the session, keeping every other cookie (the device cookie among them)."""
    client.cookies.pop(django_settings.SESSION_COOKIE_NAME, None)


@pytest.fixture
def tight(settings):
    rates = {"LOGIN_RATE": "3/h", "LOGIN_ACCOUNT_RATE": "5/h", "LOGIN_DEVICE_RATE": "3/h"}
    settings.PORTCULLIS = {**settings.PORTCULLIS, "PORTAL": rates}


@ENDPOINTS
def test_after_ten_wrong_passwords_even_the_right_one_is_refused(endpoint, staff):
    guesser = Client(REMOTE_ADDR="192.0.2.66")
    assert [endpoint(guesser, "admin", f"guess-{n}") for n in range(10)] == [WRONG[endpoint]] * 10

    assert endpoint(guesser, "admin", RIGHT) == 429


def test_the_refusal_says_when_to_come_back_in_the_endpoints_own_format(staff):
    guesser = Client(REMOTE_ADDR="192.0.2.66")
    for n in range(10):
        api_token(guesser, "admin", f"guess-{n}")

    api = guesser.post(
        "/api/v1/auth/token/",
        {"username": "admin", "password": RIGHT},
        content_type="application/json",
    )
    page = guesser.post("/admin/login/", {"username": "admin", "password": RIGHT})

    assert api["Content-Type"] == "application/problem+json"
    assert 0 < int(api["Retry-After"]) <= 15 * 60
    assert "access" not in api.json()
    assert page.status_code == 429 and "Too many attempts" in page.content.decode()
    assert int(page["Retry-After"]) > 0


def test_one_limit_counts_the_failures_of_every_password_endpoint(staff, tight):
    guesser = Client(REMOTE_ADDR="192.0.2.66")
    assert portal_login(guesser, "admin", "a") == 200
    assert admin_login(guesser, "admin", "b") == 200
    assert api_token(guesser, "admin", "c") == 401

    assert portal_login(guesser, "admin", RIGHT) == 429


def test_a_wrong_old_password_at_password_change_counts_too(alice, tight):
    client = Client(REMOTE_ADDR="192.0.2.66")
    client.force_login(alice)
    change = {
        "old_password": "guess",
        "new_password1": "n3w-passphrase!",
        "new_password2": "n3w-passphrase!",
    }
    assert [client.post("/accounts/password/", change).status_code for _ in range(3)] == [200] * 3

    right = client.post("/accounts/password/", {**change, "old_password": RIGHT})

    assert right.status_code == 429
    alice.refresh_from_db()
    assert alice.check_password(RIGHT)


def test_admin_password_change_is_guarded_as_well(staff, tight):
    client = Client(REMOTE_ADDR="192.0.2.66")
    client.force_login(staff)
    change = {
        "old_password": "guess",
        "new_password1": "n3w-passphrase!",
        "new_password2": "n3w-passphrase!",
    }
    statuses = [client.post("/admin/password_change/", change).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]


@ENDPOINTS
def test_right_passwords_are_never_counted(endpoint, staff, tight):
    client = Client(REMOTE_ADDR="192.0.2.10")
    assert all(endpoint(client, "admin", RIGHT) == SIGNED_IN[endpoint] for _ in range(8))


def test_guessers_from_many_addresses_stop_at_the_accounts_limit(alice, tight):
    statuses = [
        portal_login(Client(REMOTE_ADDR=f"192.0.2.{n}"), "alice", "guess") for n in range(1, 8)
    ]
    stranger = Client(REMOTE_ADDR="198.51.100.1")

    assert statuses == [200] * 5 + [429] * 2
    assert portal_login(stranger, "alice", RIGHT) == 429


@ENDPOINTS
def test_a_guesser_cannot_lock_the_owner_out_of_a_client_that_signed_in_before(
    endpoint, staff, tight
):
    owner = Client(REMOTE_ADDR="198.51.100.20")
    assert endpoint(owner, "admin", RIGHT) == SIGNED_IN[endpoint]
    assert DEVICE_COOKIE in owner.cookies
    for n in range(1, 10):
        endpoint(Client(REMOTE_ADDR=f"192.0.2.{n}"), "admin", "guess")
    assert endpoint(Client(REMOTE_ADDR="198.51.100.21"), "admin", RIGHT) == 429

    sign_out(owner)
    assert endpoint(owner, "admin", RIGHT) == SIGNED_IN[endpoint]


def test_a_device_cookie_has_a_limit_of_its_own(alice, tight):
    client = Client(REMOTE_ADDR="198.51.100.20")
    assert portal_login(client, "alice", RIGHT) == 302
    sign_out(client)

    assert [portal_login(client, "alice", "guess") for _ in range(4)] == [200, 200, 200, 429]
    assert portal_login(Client(REMOTE_ADDR="198.51.100.30"), "alice", RIGHT) == 302


def test_a_device_cookie_vouches_only_for_its_own_account(alice, bob, tight):
    client = Client(REMOTE_ADDR="198.51.100.20")
    assert portal_login(client, "alice", RIGHT) == 302
    sign_out(client)
    for n in range(1, 7):
        portal_login(Client(REMOTE_ADDR=f"192.0.2.{n}"), "bob", "guess")

    assert portal_login(client, "bob", RIGHT) == 429


def test_a_forged_device_cookie_is_ignored(alice, tight):
    for n in range(1, 7):
        portal_login(Client(REMOTE_ADDR=f"192.0.2.{n}"), "alice", "guess")
    forger = Client(REMOTE_ADDR="192.0.2.99")
    forger.cookies[DEVICE_COOKIE] = '{"user": "alice", "device": "x"}'

    assert portal_login(forger, "alice", RIGHT) == 429
