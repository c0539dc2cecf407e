"""Tokens from the token endpoint open the gateway, and stop opening it once revoked."""

from __future__ import annotations

import pytest

from apis.services import api_transition
from keys.services import token_keys_rotate
from tests.asgi import AsgiClient
from tests.factories import ApiFactory, ApplicationFactory, PlanFactory, SubscriptionFactory
from tests.keys.conftest import basic
from tests.servers import Upstream

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(db):
    with Upstream() as upstream:
        api = ApiFactory(slug="orders", upstream_url=upstream.url)
        PlanFactory(api=api, rate_limit="1000/m")
        api_transition(api=api, to="published", actor=None)
        yield api


@pytest.fixture
def client_app(orders):
    application = ApplicationFactory(owner__password="!")
    SubscriptionFactory(application=application, api=orders, plan=orders.plans.get())
    return application


def _call_gateway(token: str):
    """A gateway call through the data plane's ASGI application, as the gateway serves it."""
    return AsgiClient().get("/gw/orders/ping", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_issued_token_opens_the_gateway_until_revoked(oauth, client_app):
    token = oauth.token(client_app).json()["access_token"]

    assert _call_gateway(token).status_code == 200
    oauth.post("/oauth/revoke", {"token": token}, Authorization=basic(client_app.client_id))
    refused = _call_gateway(token)

    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused["WWW-Authenticate"]


def test_token_issued_before_a_rotation_still_opens_the_gateway(oauth, client_app):
    before = oauth.token(client_app).json()["access_token"]

    token_keys_rotate()
    after = oauth.token(client_app).json()["access_token"]

    assert _call_gateway(before).status_code == 200
    assert _call_gateway(after).status_code == 200


def test_token_of_an_unsubscribed_application_is_forbidden_at_the_gateway(oauth, orders):
    stranger = ApplicationFactory(owner__password="!")
    token = oauth.token(stranger).json()["access_token"]

    assert _call_gateway(token).status_code == 403
