"""Fixtures of the gateway tests: a loopback upstream, a published API, a subscribed app."""

from __future__ import annotations

import pytest
from django.conf import settings

from apis.services import api_transition
from tests.asgi import AsgiClient
from tests.factories import ApiFactory, ApplicationFactory, PlanFactory, SubscriptionFactory
from tests.servers import Upstream
from tests.tokens import token_for

needs_redis = pytest.mark.skipif(
    not settings.REDIS_URL,
    reason="needs Redis (set REDIS_URL): Redis round trips and shared counters",
)
needs_postgres = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="needs PostgreSQL: server processes must share the tests' database (DATABASE_URL)",
)


@pytest.fixture
def upstream():
    with Upstream() as server:
        yield server


@pytest.fixture
def api(db, upstream):
    """A published REST API whose upstream lives under /base on the loopback upstream."""
    api = ApiFactory(slug="orders", upstream_url=f"{upstream.url}/base")
    PlanFactory(api=api, name="basic", rate_limit="1000/m")
    api_transition(api=api, to="published", actor=None)
    return api


@pytest.fixture
def application(alice):
    return ApplicationFactory(owner=alice, name="alice-app")


@pytest.fixture
def subscription(application, api):
    return SubscriptionFactory(application=application, api=api, plan=api.plans.get())


@pytest.fixture
def gw(subscription):
    """An HTTP client carrying a valid access token of the subscribed application."""
    client = AsgiClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(subscription.application)}")
    return client
