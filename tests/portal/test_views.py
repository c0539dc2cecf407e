"""The developer portal's pages, through the Django test client."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apis.ai.models import PromptEndpoint
from apis.models import Subscription
from apis.services import api_set_tags, api_transition
from apis.usage.models import UsageRollup
from keys.models import Application
from keys.services import application_authenticate
from tests.factories import (
    ApiFactory,
    ApplicationFactory,
    PlanFactory,
    SubscriptionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"pcs_[A-Za-z0-9_\-]+")


@pytest.fixture
def alice_web(client, alice):
    client.force_login(alice)
    return client


def shown_secret(response) -> str:
    match = SECRET.search(response.content.decode())
    assert match, "no client secret on the page"
    return match.group(0)


# Catalog ---------------------------------------------------------------------------------------


def test_catalog_lists_published_apis_and_hides_design_ones(client):
    ApiFactory(name="Weather", published=True)
    ApiFactory(name="Secret draft")
    page = client.get("/").content.decode()
    assert "Weather" in page
    assert "Secret draft" not in page


def test_catalog_search_tag_and_state_filters_narrow_the_list(client):
    weather = ApiFactory(name="Weather", description="Forecasts", published=True)
    ApiFactory(name="Payments", published=True)
    api_set_tags(api=weather, tags=["climate"])
    old = ApiFactory(name="Legacy maps", published=True)
    api_transition(api=old, to="deprecated", actor=None)

    assert "Payments" not in client.get("/", {"q": "forecast"}).content.decode()
    by_tag = client.get("/", {"tag": "climate"}).content.decode()
    assert "Weather" in by_tag and "Payments" not in by_tag
    by_state = client.get("/", {"state": "deprecated"}).content.decode()
    assert "Legacy maps" in by_state and "Weather" not in by_state


def test_deprecated_api_is_badged_with_its_sunset_date(client):
    api = ApiFactory(name="Old", published=True)
    api_transition(api=api, to="deprecated", actor=None, sunset=timezone.now() + timedelta(days=30))
    sunset = (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%d")
    page = client.get("/").content.decode()
    assert "Deprecated" in page
    assert f"sunset {sunset}" in page


def test_catalog_says_so_when_nothing_matches(client):
    assert "No API matches" in client.get("/", {"q": "nothing-like-this"}).content.decode()


# API page --------------------------------------------------------------------------------------


def test_api_page_shows_plans_other_versions_samples_and_reference(client):
    openapi = {
        "openapi": "3.1.0",
        "info": {"title": "Weather", "version": "2"},
        "paths": {"/forecast": {"get": {"summary": "Forecast for a city"}}},
    }
    api = ApiFactory(slug="weather-v2", name="Weather", version="v2", openapi=openapi)
    PlanFactory(api=api, name="Gold", rate_limit="100/m", monthly_quota=5000)
    api_transition(api=api, to="published", actor=None)
    ApiFactory(slug="weather-v1", name="Weather", version="v1", published=True)

    page = client.get("/apis/weather-v2/").content.decode()
    assert "Gold" in page and "100/m" in page and "5000" in page
    assert 'href="/apis/weather-v1/"' in page
    assert "grant_type=client_credentials" in page and "/oauth/token" in page
    assert "http://testserver/gw/weather-v2/" in page
    assert "import httpx" in page
    assert "/gw/weather-v2/forecast" in page and "Forecast for a city" in page
    assert "swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert '"url": "http://testserver/mcp"' in page


def test_api_openapi_document_is_served_for_the_viewer(client):
    document = {"openapi": "3.1.0", "info": {"title": "T", "version": "1"}, "paths": {}}
    ApiFactory(slug="documented", openapi=document, published=True)
    response = client.get("/apis/documented/openapi.json")
    assert response.status_code == 200
    assert response.json() == {**document, "servers": [{"url": "http://testserver/gw/documented"}]}


def test_api_openapi_document_names_the_gateway_not_the_backend(client):
    document = {
        "openapi": "3.1.0",
        "info": {"title": "T", "version": "1"},
        "servers": [{"url": "http://10.0.0.7:8080/internal"}],
        "paths": {"/a": {"get": {"servers": [{"url": "http://10.0.0.9/"}]}}},
    }
    ApiFactory(slug="documented", openapi=document, published=True)

    served = client.get("/apis/documented/openapi.json").json()

    assert served["servers"] == [{"url": "http://testserver/gw/documented"}]
    assert "10.0.0." not in str(served)


def test_api_page_of_an_api_in_design_is_not_found(client):
    ApiFactory(slug="draft")
    assert client.get("/apis/draft/").status_code == 404
    assert client.get("/apis/draft/openapi.json").status_code == 404


def test_ai_api_page_shows_openai_sdk_sample(client):
    ApiFactory(slug="chat", kind="ai", upstream_url="", model="demo/echo", published=True)
    page = client.get("/apis/chat/").content.decode()
    assert "/gw/chat/chat/completions" in page
    assert "from openai import OpenAI" in page


def test_prompt_api_page_fills_the_sample_with_its_variables(client):
    api = ApiFactory(slug="translate", kind="prompt", upstream_url="", published=True)
    PromptEndpoint.objects.create(
        api=api,
        model="demo/echo",
        template="Translate {{text}} to {{language}}",
        variables={
            "type": "object",
            "properties": {"text": {"type": "string", "example": "Bonjour"}, "language": {}},
        },
    )
    page = html.unescape(client.get("/apis/translate/").content.decode())
    assert """-d '{"text": "Bonjour", "language": "language"}'""" in page
    assert "json={'text': 'Bonjour', 'language': 'language'}" in page


def test_signed_in_developer_can_subscribe_from_the_api_page(alice_web, alice):
    api = ApiFactory(slug="maps", published=True)
    application = ApplicationFactory(owner=alice, name="shop")
    page = alice_web.get("/apis/maps/").content.decode()
    assert 'hx-post="/subscriptions/"' in page and "shop" in page

    response = alice_web.post(
        "/subscriptions/",
        {"application": application.pk, "plan": api.plans.get().pk},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "active, you can call it now" in response.content.decode()
    assert Subscription.objects.get(application=application, api=api).status == "active"


# Accounts --------------------------------------------------------------------------------------


def test_signup_creates_an_account_and_signs_the_developer_in(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/apps/"
    assert response.context["user"].username == "carol"
    assert get_user_model().objects.get(username="carol").email == "carol@example.com"


def test_signup_with_mismatched_passwords_explains_the_problem(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "dan",
            "email": "d@example.com",
            "password1": "x1-long-pass",
            "password2": "y",
        },
    )
    assert response.status_code == 200
    assert "password2" in response.context["form"].errors
    assert not get_user_model().objects.filter(username="dan").exists()


def test_login_then_logout(client, alice):
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert client.get("/apps/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/apps/").status_code == 302


def test_login_with_a_wrong_password_is_refused(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_password_change_takes_the_new_password(alice_web, alice):
    response = alice_web.post(
        "/accounts/password/",
        {
            "old_password": "correct-horse-battery",
            "new_password1": "another-long-passphrase",
            "new_password2": "another-long-passphrase",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/done/"
    alice.refresh_from_db()
    assert alice.check_password("another-long-passphrase")


# Applications ----------------------------------------------------------------------------------


def test_creating_an_application_shows_a_working_secret_once(alice_web, alice):
    response = alice_web.post("/apps/", {"name": "shop"})
    assert response.status_code == 200
    secret = shown_secret(response)
    application = Application.objects.get(created_by=alice, name="shop")
    assert application_authenticate(client_id=application.client_id, client_secret=secret)
    assert "no-store" in response["Cache-Control"]
    assert secret not in alice_web.get("/apps/").content.decode()


def test_duplicate_application_name_is_explained(alice_web, alice):
    ApplicationFactory(owner=alice, name="shop")
    response = alice_web.post("/apps/", {"name": "shop"})
    assert "already has an application named" in response.content.decode()
    assert Application.objects.filter(created_by=alice).count() == 1


def test_rotating_shows_a_new_secret_and_the_old_one_stops_working(alice_web, alice):
    old = shown_secret(alice_web.post("/apps/", {"name": "shop"}))
    application = Application.objects.get(created_by=alice, name="shop")

    response = alice_web.post(f"/apps/{application.pk}/rotate/", HTTP_HX_REQUEST="true")
    new = shown_secret(response)
    assert "<html" not in response.content.decode()  # htmx gets the fragment only
    assert new != old
    assert application_authenticate(client_id=application.client_id, client_secret=new)
    assert not application_authenticate(client_id=application.client_id, client_secret=old)


def test_rotating_without_htmx_renders_the_whole_page(alice_web, alice):
    application = ApplicationFactory(owner=alice)
    response = alice_web.post(f"/apps/{application.pk}/rotate/")
    assert "<html" in response.content.decode()
    assert application_authenticate(
        client_id=application.client_id, client_secret=shown_secret(response)
    )


def test_deleting_an_application_removes_it(alice_web, alice):
    application = ApplicationFactory(owner=alice, name="gone")
    response = alice_web.post(f"/apps/{application.pk}/delete/", follow=True)
    assert "Application &#x27;gone&#x27; deleted." in response.content.decode()
    assert not Application.objects.filter(pk=application.pk).exists()


# Subscriptions ---------------------------------------------------------------------------------


def test_subscribing_to_an_open_plan_is_active_at_once(alice_web, alice):
    api = ApiFactory(name="Maps", published=True)
    application = ApplicationFactory(owner=alice)
    response = alice_web.post(
        "/subscriptions/",
        {"application": application.pk, "plan": api.plans.get().pk},
        follow=True,
    )
    page = response.content.decode()
    assert "active, you can call it now" in page
    assert 'class="badge status-active"' in page


def test_subscribing_to_a_plan_needing_approval_stays_pending(alice_web, alice):
    api = ApiFactory(name="Payments")
    plan = PlanFactory(api=api, name="Enterprise", requires_approval=True)
    api_transition(api=api, to="published", actor=None)
    application = ApplicationFactory(owner=alice)
    response = alice_web.post(
        "/subscriptions/", {"application": application.pk, "plan": plan.pk}, follow=True
    )
    assert "pending until its providers approve" in response.content.decode()
    assert Subscription.objects.get(application=application).status == "pending"


def test_subscribing_twice_is_explained(alice_web, alice):
    subscription = SubscriptionFactory(application=ApplicationFactory(owner=alice))
    response = alice_web.post(
        "/subscriptions/",
        {"application": subscription.application.pk, "plan": subscription.plan.pk},
    )
    assert response.status_code == 400
    assert "already has a live subscription" in response.content.decode()


def test_plans_of_deprecated_apis_cannot_be_picked(alice_web, alice):
    api = ApiFactory(published=True)
    api_transition(api=api, to="deprecated", actor=None)
    application = ApplicationFactory(owner=alice)
    response = alice_web.post(
        "/subscriptions/", {"application": application.pk, "plan": api.plans.get().pk}
    )
    assert response.status_code == 400
    assert not Subscription.objects.exists()


def test_revoking_a_subscription_ends_it(alice_web, alice):
    subscription = SubscriptionFactory(application=ApplicationFactory(owner=alice))
    response = alice_web.post(f"/subscriptions/{subscription.pk}/revoke/", follow=True)
    assert "revoked" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.status == "revoked"


# Usage -----------------------------------------------------------------------------------------


def rollup(application, api, *, granularity, hours_ago, **figures) -> UsageRollup:
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(hours=hours_ago)
    if granularity == "day":
        start = start.replace(hour=0)
    return UsageRollup.objects.create(
        granularity=granularity,
        period_start=start,
        api=api,
        application=application,
        **figures,
    )


def test_usage_shows_requests_errors_p95_tokens_and_cost_per_application_and_api(alice_web, alice):
    application = ApplicationFactory(owner=alice, name="shop")
    api = ApiFactory(slug="maps", published=True)
    latencies = {"100": 5, "140": 2}  # the p95 of 7 calls: the 7th
    figures = {"requests": 7, "errors": 2, "latency_histogram": latencies, "prompt_tokens": 30}
    rollup(application, api, granularity="hour", hours_ago=1, cost=Decimal("0.25"), **figures)
    rollup(application, api, granularity="day", hours_ago=0, requests=40, errors=3)

    response = alice_web.get("/usage/")
    windows = {window["key"]: window for window in response.context["windows"]}
    (last_day,) = windows["24h"]["table"]
    assert (last_day.application, last_day.api, last_day.requests, last_day.errors) == (
        "shop",
        "maps",
        7,
        2,
    )
    assert (last_day.p95_ms, last_day.tokens, last_day.cost) == (140, 30, Decimal("0.25"))
    assert windows["30d"]["table"][0].requests == 40
    assert sum(windows["24h"]["chart"]["requests"]) == 7
    page = response.content.decode()
    assert 'id="usage-data" type="application/json"' in page
    assert "chart.umd.min.js" in page


def test_usage_leaves_out_what_is_older_than_the_window(alice_web, alice):
    application = ApplicationFactory(owner=alice)
    api = ApiFactory(published=True)
    rollup(application, api, granularity="hour", hours_ago=30, requests=5)
    rollup(application, api, granularity="day", hours_ago=24 * 40, requests=9)
    response = alice_web.get("/usage/")
    assert all(not window["table"] for window in response.context["windows"])
    assert "No calls in this period." in response.content.decode()


# Sign-in required ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/apps/", "/subscriptions/", "/usage/", "/accounts/password/"])
def test_private_pages_send_anonymous_visitors_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_private_actions_need_a_signed_in_developer(client):
    application = ApplicationFactory(owner=UserFactory())
    assert client.post(f"/apps/{application.pk}/rotate/").status_code == 302
    assert client.post(f"/apps/{application.pk}/delete/").status_code == 302
    assert Application.objects.filter(pk=application.pk).exists()
