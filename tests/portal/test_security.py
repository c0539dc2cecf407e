"""Security of the portal: ownership between developers, CSRF, headers, secrets, rate limits."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apis.models import Subscription
from apis.usage.models import UsageRollup
from keys.models import Application
from tests.factories import ApiFactory, ApplicationFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)


@pytest.fixture
def alice_app(alice):
    return ApplicationFactory(owner=alice, name="alice-private-app")


@pytest.fixture
def alice_subscription(alice_app):
    return SubscriptionFactory(application=alice_app)


@pytest.fixture
def bob_web(bob):
    client = Client()
    client.force_login(bob)
    return client


# One developer never sees another's ------------------------------------------------------------


def test_applications_page_shows_only_the_developers_own(bob_web, bob, alice_app):
    ApplicationFactory(owner=bob, name="bob-app")
    page = bob_web.get("/apps/").content.decode()
    assert "bob-app" in page
    assert "alice-private-app" not in page
    assert alice_app.client_id not in page


def test_another_developers_application_cannot_be_rotated_or_deleted(bob_web, alice_app):
    before = alice_app.secret_hash
    assert bob_web.post(f"/apps/{alice_app.pk}/rotate/").status_code == 404
    assert bob_web.post(f"/apps/{alice_app.pk}/delete/").status_code == 404
    alice_app.refresh_from_db()
    assert alice_app.secret_hash == before


def test_subscriptions_page_shows_only_the_developers_own(bob_web, alice_subscription):
    page = bob_web.get("/subscriptions/").content.decode()
    assert "alice-private-app" not in page
    assert alice_subscription.api.name not in page.split("Subscribe to a plan")[0]


def test_another_developers_subscription_cannot_be_revoked(bob_web, alice_subscription):
    assert bob_web.post(f"/subscriptions/{alice_subscription.pk}/revoke/").status_code == 404
    alice_subscription.refresh_from_db()
    assert alice_subscription.status == "active"


def test_another_developers_application_cannot_be_subscribed(bob_web, alice_app):
    api = ApiFactory(published=True)
    response = bob_web.post(
        "/subscriptions/", {"application": alice_app.pk, "plan": api.plans.get().pk}
    )
    assert response.status_code == 400
    assert not Subscription.objects.filter(application=alice_app).exists()


def test_subscribe_form_offers_only_the_developers_own_applications(bob_web, alice_app):
    ApiFactory(slug="open", published=True)
    assert "alice-private-app" not in bob_web.get("/apis/open/").content.decode()


def test_usage_page_shows_only_the_developers_own(bob_web, bob, alice_app):
    api = ApiFactory(published=True)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for application in (alice_app, ApplicationFactory(owner=bob, name="bob-app")):
        UsageRollup.objects.create(
            granularity="hour",
            period_start=now - timedelta(hours=1),
            api=api,
            application=application,
            requests=3,
        )
    response = bob_web.get("/usage/")
    page = response.content.decode()
    assert "bob-app" in page
    assert "alice-private-app" not in page
    assert sum(response.context["windows"][0]["chart"]["requests"]) == 3


# Secrets ---------------------------------------------------------------------------------------


def test_client_secret_is_never_stored_in_the_session_nor_shown_again(alice):
    client = Client()
    client.force_login(alice)
    secret = re.search(r"pcs_[\w\-]+", client.post("/apps/", {"name": "shop"}).content.decode())[0]
    assert secret not in str(dict(client.session.items()))
    assert secret not in client.get("/apps/").content.decode()
    application = Application.objects.get(created_by=alice)
    assert secret not in application.secret_hash


# CSRF and headers ------------------------------------------------------------------------------


def test_forms_refuse_posts_without_a_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post("/apps/", {"name": "shop"}).status_code == 403
    assert client.post("/accounts/logout/").status_code == 403
    assert not Application.objects.exists()


def test_every_form_carries_a_csrf_token(alice):
    client = Client()
    client.force_login(alice)
    ApplicationFactory(owner=alice)
    for path in ("/apps/", "/subscriptions/", "/accounts/password/"):
        page = client.get(path).content.decode()
        assert page.count('method="post"') == page.count("csrfmiddlewaretoken"), path


def test_logout_needs_a_post(alice):
    client = Client()
    client.force_login(alice)
    assert client.get("/accounts/logout/").status_code == 405


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/accounts/signup/"])
def test_pages_send_security_headers(client, path):
    response = client.get(path)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_no_page_has_an_inline_script(alice):
    client = Client()
    client.force_login(alice)
    ApplicationFactory(owner=alice)
    api = ApiFactory(slug="documented", openapi={"openapi": "3.1.0", "paths": {}}, published=True)
    pages = ["/", f"/apis/{api.slug}/", "/apps/", "/subscriptions/", "/usage/"]
    for path in pages:
        page = client.get(path).content.decode()
        assert "<script" in page, path
        assert not INLINE_SCRIPT.search(page), path


# Rate limits -----------------------------------------------------------------------------------


@pytest.fixture
def tight_rates(settings):
    # Hour windows, so that three quick attempts practically never straddle a window edge.
    portal = {"SIGNUP_RATE": "2/h", "LOGIN_RATE": "2/h"}
    settings.PORTCULLIS = {**settings.PORTCULLIS, "PORTAL": portal}


def test_login_attempts_are_rate_limited(client, alice, tight_rates):
    wrong = {"username": "alice", "password": "guess"}
    assert [client.post("/accounts/login/", wrong).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    right = {"username": "alice", "password": "correct-horse-battery"}
    response = client.post("/accounts/login/", right)
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert response["Retry-After"]


def test_signups_are_rate_limited(client, tight_rates):
    def signup(name: str) -> int:
        password = "a-long-unusual-passphrase"
        form = {"username": name, "email": f"{name}@example.com"}
        return client.post(
            "/accounts/signup/", {**form, "password1": password, "password2": password}
        ).status_code

    assert [signup(name) for name in ("u1", "u2", "u3")] == [302, 302, 429]
