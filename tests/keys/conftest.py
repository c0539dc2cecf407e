"""Fixtures of the keys tests: an application with a known secret and a form-posting client."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest
from django.test import Client

from tests.factories import DEFAULT_SECRET, ApplicationFactory, SubscriptionFactory

FORM = "application/x-www-form-urlencoded"


def basic(client_id: str, secret: str = DEFAULT_SECRET) -> str:
    """An HTTP Basic Authorization header value."""
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


class OAuthClient:
    """Posts forms to the OAuth endpoints as a client application would."""

    def __init__(self, address: str = "203.0.113.7") -> None:
        self.http = Client(REMOTE_ADDR=address)

    def post(self, path: str, form: dict | list, **headers):
        return self.http.post(path, urlencode(form), content_type=FORM, headers=headers)

    def token(self, application, secret: str = DEFAULT_SECRET, *, headers=None, **form):
        fields = {"grant_type": "client_credentials", **form}
        auth = basic(application.client_id, secret)
        return self.post("/oauth/token", fields, Authorization=auth, **(headers or {}))


@pytest.fixture
def oauth() -> OAuthClient:
    return OAuthClient()


@pytest.fixture
def subscription(db, alice):
    return SubscriptionFactory(application=ApplicationFactory(owner=alice), api__slug="weather")


@pytest.fixture
def application(subscription):
    return subscription.application
