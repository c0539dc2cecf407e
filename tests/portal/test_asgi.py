"""The control plane under the same ASGI application as the gateway: unchanged for its users."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import DEFAULT_SECRET, ApplicationFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-enough-password-42"


@pytest.fixture
def client(live_server):
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


def test_the_portal_admin_and_docs_answer_under_asgi(client):
    for path in ("/", "/accounts/login/", "/admin/login/", "/api/v1/docs/", "/readyz"):
        assert client.get(path).status_code == 200, path


def test_a_client_takes_a_token_and_a_developer_signs_in_under_asgi(client, alice):
    application = ApplicationFactory(owner=alice)
    token = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(application.client_id, DEFAULT_SECRET),
    )
    developer = UserFactory(username="dev", password=PASSWORD)
    pair = client.post(
        "/api/v1/auth/token/", json={"username": developer.username, "password": PASSWORD}
    )
    apps = client.get("/api/v1/apps/", headers={"Authorization": f"Bearer {pair.json()['access']}"})

    assert token.status_code == 200
    assert token.json()["token_type"] == "Bearer"
    assert pair.status_code == 200
    assert apps.status_code == 200
