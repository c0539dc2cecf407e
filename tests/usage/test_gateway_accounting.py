"""Calls through the gateway show up in the usage endpoint after the rollup, refusals as errors."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from apis.services import api_transition
from tests.asgi import AsgiClient
from tests.factories import ApiFactory, PlanFactory, SubscriptionFactory
from tests.servers import Upstream
from tests.tokens import token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def upstream():
    with Upstream() as server:
        yield server


def call(client: AsgiClient, path: str) -> int:
    """One gateway call, read to the end as a real client would (the end closes it)."""
    response = client.get(path)
    if response.streaming:
        b"".join(response.streaming_content)
    return response.status_code


def test_gateway_calls_are_counted_per_api_and_application(upstream, alice_app, alice_client):
    api = ApiFactory(slug="orders", upstream_url=f"{upstream.url}/base")
    PlanFactory(api=api, name="basic", rate_limit="1000/m")
    api_transition(api=api, to="published", actor=None)
    SubscriptionFactory(application=alice_app, api=api, plan=api.plans.get())
    gateway = AsgiClient()
    gateway.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(alice_app)}")
    assert [call(gateway, "/gw/orders/items") for _ in range(2)] == [200, 200]
    assert call(gateway, "/gw/orders/status/503") == 503

    call_command("rollup_usage")
    [row] = alice_client.get("/api/v1/usage/", {"api": "orders"}).json()["results"]
    assert (row["application"], row["requests"], row["errors"]) == (alice_app.pk, 3, 1)
