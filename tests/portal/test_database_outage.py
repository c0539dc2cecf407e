"""PostgreSQL going away under a running server: 503 with Retry-After everywhere, then recovery.

The server is a real gunicorn process whose database connections pass through a TCP relay
that the test cuts (refusing new connections, resetting live ones) and restores.
"""

from __future__ import annotations

import time

import httpx
import pytest
from django.conf import settings
from django.db import connection

from apis.services import api_transition
from tests.factories import (
    DEFAULT_SECRET,
    ApiFactory,
    ApplicationFactory,
    PlanFactory,
    StaffFactory,
    SubscriptionFactory,
)
from tests.relay import TcpRelay
from tests.servers import GatewayServer, Upstream, database_url
from tests.tokens import token_for

pytestmark = [
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="needs PostgreSQL: the server process must share the tests' database",
    ),
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "correct-horse-battery"


@pytest.fixture
def relay():
    host = connection.settings_dict.get("HOST") or "127.0.0.1"
    port = int(connection.settings_dict.get("PORT") or 5432)
    with TcpRelay((host, port)) as relay:
        yield relay
    _wait_for_other_sessions_to_end()


def _wait_for_other_sessions_to_end(timeout: float = 5.0) -> None:
    # PostgreSQL ends a reset session a moment later; the test database is dropped after us.
    query = (
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(query)
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.1)


@pytest.fixture
def server(relay):
    through_relay = database_url().replace(
        f"@{connection.settings_dict.get('HOST') or '127.0.0.1'}:"
        f"{connection.settings_dict.get('PORT') or 5432}/",
        f"@127.0.0.1:{relay.port}/",
    )
    with GatewayServer(env={"DATABASE_URL": through_relay}) as server:
        yield server


@pytest.fixture
def client_credentials(alice):
    application = ApplicationFactory(owner=alice)
    SubscriptionFactory(application=application)
    return (application.client_id, DEFAULT_SECRET)


def token_status(server, credentials) -> httpx.Response:
    form = {"grant_type": "client_credentials"}
    return httpx.post(f"{server.url}/oauth/token", data=form, auth=credentials, timeout=10)


def test_the_token_endpoint_answers_503_in_oauth_form_and_recovers(
    relay, server, client_credentials
):
    assert token_status(server, client_credentials).status_code == 200

    relay.cut()
    down = token_status(server, client_credentials)
    relay.restore()
    recovered = _eventually(lambda: token_status(server, client_credentials).status_code, 200)

    assert down.status_code == 503
    assert down.json() == {
        "error": "temporarily_unavailable",
        "error_description": down.json()["error_description"],
    }
    assert int(down.headers["Retry-After"]) > 0
    assert down.headers["Cache-Control"] == "no-store"
    assert recovered == 200


def test_the_management_api_and_the_portal_answer_503_while_the_database_is_away(relay, server):
    StaffFactory(username="ops")
    login = {"username": "ops", "password": PASSWORD}
    access = httpx.post(f"{server.url}/api/v1/auth/token/", json=login).json()["access"]
    bearer = {"Authorization": f"Bearer {access}"}

    relay.cut()
    api = httpx.get(f"{server.url}/api/v1/apis/", headers=bearer, timeout=10)
    sign_in = httpx.post(f"{server.url}/api/v1/auth/token/", json=login, timeout=10)
    page = httpx.get(f"{server.url}/", timeout=10)
    relay.restore()
    recovered = _eventually(
        lambda: httpx.get(f"{server.url}/api/v1/apis/", headers=bearer).status_code, 200
    )

    for response in (api, sign_in):
        assert response.status_code == 503
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["title"] == "Temporarily unavailable"
        assert int(response.headers["Retry-After"]) > 0
    assert page.status_code == 503
    assert page.headers["Content-Type"].startswith("text/html")
    assert "Temporarily unavailable" in page.text
    assert int(page.headers["Retry-After"]) > 0
    assert recovered == 200


def _eventually(status_of, expected: int, timeout: float = 15.0) -> int:
    deadline = time.monotonic() + timeout
    status = status_of()
    while status != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        status = status_of()
    return status


def test_the_gateway_serves_warm_calls_and_answers_cold_ones_503_while_the_database_is_away(
    relay, server, alice, upstream_url
):
    warm, cold = (_subscribed_api(alice, slug, upstream_url) for slug in ("warm", "cold"))
    assert httpx.get(f"{server.url}/gw/warm/x", headers=warm, timeout=10).status_code == 200

    relay.cut()
    served = httpx.get(f"{server.url}/gw/warm/x", headers=warm, timeout=10)
    refused = httpx.get(f"{server.url}/gw/cold/x", headers=cold, timeout=10)
    relay.restore()
    recovered = _served_again(
        lambda: httpx.get(f"{server.url}/gw/cold/x", headers=cold, timeout=10)
    )

    assert served.status_code == 200
    assert refused.status_code == 503
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.headers["Retry-After"]
    assert recovered.status_code == 200


@pytest.fixture
def upstream_url():
    with Upstream() as upstream:
        yield upstream.url


def _subscribed_api(owner, slug: str, upstream_url: str) -> dict[str, str]:
    api = ApiFactory(slug=slug, upstream_url=upstream_url)
    PlanFactory(api=api, name="basic", rate_limit="1000/m")
    api_transition(api=api, to="published", actor=None)
    application = ApplicationFactory(owner=owner)
    SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    return {"Authorization": f"Bearer {token_for(application)}"}


def _served_again(call, seconds: float = 20.0) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        answer = call()
        if answer.status_code == 200 or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)
