"""Tokens at the gateway: no token, a bad one, or one of an application without rights."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache

from apis import catalog_cache as lookups
from apis.conf import gateway_settings
from apis.models import Subscription
from apis.services import subscription_revoke
from keys.services import application_delete
from tests.asgi import AsgiClient
from tests.factories import ApiFactory, ApplicationFactory, SubscriptionFactory
from tests.gateway.reading import json_of
from tests.tokens import token_for


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer ", "Basic YWxpY2U6cHc=", "Bearer not.a.token"]
)
def test_missing_or_malformed_token_answers_401_with_challenge(api, upstream, authorization):
    client = AsgiClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    response = client.get("/gw/orders/x")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert response["Content-Type"] == "application/problem+json"
    assert json_of(response)["status"] == 401
    assert not upstream.hits


def test_valid_token_of_a_subscribed_application_reaches_upstream(gw, upstream):
    assert gw.get("/gw/orders/x").status_code == 200
    assert upstream.hits["/base/x"] == 1


def test_application_without_subscription_answers_403(api, bob, upstream):
    client = AsgiClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(ApplicationFactory(owner=bob))}")

    response = client.get("/gw/orders/x")

    assert response.status_code == 403
    assert "no active subscription" in json_of(response)["detail"]
    assert not upstream.hits


def test_another_developers_subscription_does_not_open_the_api(gw, subscription, bob):
    client = AsgiClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(ApplicationFactory(owner=bob))}")

    assert gw.get("/gw/orders/x").status_code == 200
    assert client.get("/gw/orders/x").status_code == 403


def test_revoked_subscription_is_refused_on_the_next_call(gw, subscription):
    assert gw.get("/gw/orders/x").status_code == 200

    subscription_revoke(subscription=subscription)

    assert gw.get("/gw/orders/x").status_code == 403


def test_a_change_made_by_another_process_is_seen_once_the_refresh_has_passed(
    gw, subscription, manual_clock
):
    assert gw.get("/gw/orders/x").status_code == 200
    # As another process revokes: the database row and the shared catalog version change,
    # while this process's copy is left to its next re-read.
    Subscription.objects.filter(pk=subscription.pk).update(status=Subscription.Status.REVOKED)
    cache.set(lookups.VERSION_KEY, uuid.uuid4().hex, None)
    assert gw.get("/gw/orders/x").status_code == 200

    manual_clock.advance(gateway_settings.LOOKUP_REFRESH)

    assert gw.get("/gw/orders/x").status_code == 403


def test_pending_subscription_answers_403(gw, subscription):
    subscription.status = Subscription.Status.PENDING
    subscription.save()

    assert gw.get("/gw/orders/x").status_code == 403


def test_token_of_a_deleted_application_opens_nothing(gw, subscription):
    assert gw.get("/gw/orders/x").status_code == 200

    application_delete(application=subscription.application)

    assert gw.get("/gw/orders/x").status_code == 403


def test_a_token_scoped_to_another_api_answers_403_insufficient_scope(subscription, api):
    other = ApiFactory(slug="billing", published=True)
    SubscriptionFactory(application=subscription.application, api=other, plan=other.plans.first())
    client = AsgiClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {token_for(subscription.application, scope=['billing'])}"
    )

    response = client.get("/gw/orders/x")

    assert response.status_code == 403
    assert response["WWW-Authenticate"] == 'Bearer error="insufficient_scope", scope="orders"'
    assert "scope" in json_of(response)["detail"]


def test_a_token_issued_before_the_subscription_must_be_renewed(application, api, upstream):
    early = token_for(application)
    SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    client = AsgiClient()

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {early}")
    refused = client.get("/gw/orders/x")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(application)}")
    renewed = client.get("/gw/orders/x")

    assert (refused.status_code, renewed.status_code) == (403, 200)
