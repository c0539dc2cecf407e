"""The management REST API of the catalog: APIs, transitions, history, plans, subscriptions."""

from __future__ import annotations

import re
import threading
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection

from apis.models import Api, Subscription
from lifecycle.models import LifecycleEvent
from lifecycle.selectors import history_of
from tests.factories import (
    ApiFactory,
    ApplicationFactory,
    PlanFactory,
    StaffFactory,
    SubscriptionFactory,
)
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


NEW_API = {
    "slug": "weather",
    "name": "Weather",
    "version": "v2",
    "description": "Forecasts.",
    "kind": "rest",
    "upstream_url": "http://127.0.0.1:9/weather",
    "tags": ["Climate", "forecast"],
    "cache_ttl": 30,
    "timeout": 10,
}


def slugs(response) -> set[str]:
    return {api["slug"] for api in response.json()["results"]}


@pytest.fixture
def catalog():
    """One API in each lifecycle state."""
    design = ApiFactory(slug="draft", name="Draft")
    published = ApiFactory(slug="maps", name="Maps", description="Tiles", published=True)
    deprecated = ApiFactory(slug="old-maps", name="Old maps", published=True)
    deprecated_to = ApiFactory(slug="gone", name="Gone", published=True)
    from apis.services import api_transition

    api_transition(api=deprecated, to="deprecated", actor=None)
    api_transition(api=deprecated_to, to="deprecated", actor=None)
    api_transition(api=deprecated_to, to="retired", actor=None)
    return {"design": design, "published": published, "deprecated": deprecated}


# APIs -----------------------------------------------------------------------------------------


def test_developers_see_only_published_and_deprecated_apis(alice_client, catalog):
    response = alice_client.get("/api/v1/apis/")
    assert response.status_code == 200
    assert slugs(response) == {"maps", "old-maps"}


def test_staff_see_every_api(staff_client, catalog):
    assert slugs(staff_client.get("/api/v1/apis/")) == {"draft", "maps", "old-maps", "gone"}


def test_developers_get_404_for_design_and_retired_apis(alice_client, catalog):
    assert_problem(alice_client.get("/api/v1/apis/draft/"), 404)
    assert_problem(alice_client.get("/api/v1/apis/gone/"), 404)
    assert alice_client.get("/api/v1/apis/maps/").status_code == 200


def test_catalog_filters_by_state_tag_and_text(staff_client, catalog):
    staff_client.post("/api/v1/apis/", NEW_API, format="json")
    assert slugs(staff_client.get("/api/v1/apis/?state=deprecated")) == {"old-maps"}
    assert slugs(staff_client.get("/api/v1/apis/?tag=climate")) == {"weather"}
    assert slugs(staff_client.get("/api/v1/apis/?q=tiles")) == {"maps"}


def test_developer_cannot_find_design_api_by_filtering(alice_client, catalog):
    assert slugs(alice_client.get("/api/v1/apis/?state=design")) == set()


def test_staff_create_an_api_in_design(staff_client):
    response = staff_client.post("/api/v1/apis/", NEW_API, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "design"
    assert body["tags"] == ["climate", "forecast"]
    assert staff_client.get("/api/v1/apis/weather/").json()["cache_ttl"] == 30


def test_upstream_credential_is_write_only_and_sealed_at_rest(staff_client):
    api = {**NEW_API, "upstream_header": "X-Api-Key", "upstream_credential": "up-s3cret"}
    created = staff_client.post("/api/v1/apis/", api, format="json")

    assert created.status_code == 201, created.content
    shown = staff_client.get("/api/v1/apis/weather/")
    for response in (created, shown):
        assert b"up-s3cret" not in response.content
        assert response.json()["has_upstream_credential"] is True
        assert response.json()["upstream_header"] == "X-Api-Key"
    sealed = Api.objects.get(slug="weather").upstream_secret
    assert sealed
    assert "up-s3cret" not in sealed


def test_empty_upstream_credential_removes_it_and_omitting_it_keeps_it(staff_client):
    api = {**NEW_API, "upstream_header": "X-Api-Key", "upstream_credential": "up-s3cret"}
    staff_client.post("/api/v1/apis/", api, format="json")

    kept = staff_client.patch("/api/v1/apis/weather/", {"timeout": 5}, format="json")
    assert kept.json()["has_upstream_credential"] is True
    cleared = staff_client.patch(
        "/api/v1/apis/weather/", {"upstream_credential": ""}, format="json"
    )
    assert cleared.json()["has_upstream_credential"] is False


def test_upstream_credential_without_a_header_names_the_field(staff_client):
    api = {**NEW_API, "upstream_credential": "up-s3cret"}
    body = assert_problem(staff_client.post("/api/v1/apis/", api, format="json"), 400)
    assert "upstream_header" in str(body)


BACKEND_FIELDS = {"upstream_url", "upstream_header", "has_upstream_credential"}
BACKEND_DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "Backend", "version": "1"},
    "servers": [{"url": "http://10.0.0.7:8080/internal"}],
    "paths": {
        "/items": {
            "servers": [{"url": "http://10.0.0.8/items-service"}],
            "get": {"summary": "Items", "servers": [{"url": "http://10.0.0.9/"}]},
        }
    },
}


def test_developers_do_not_see_where_the_gateway_forwards(alice_client, staff_client):
    ApiFactory(
        slug="backed",
        upstream_url="http://10.0.0.7:8080/internal",
        upstream_header="X-Api-Key",
        published=True,
    )

    detail = alice_client.get("/api/v1/apis/backed/").json()
    listed = alice_client.get("/api/v1/apis/").json()["results"][0]
    staff_sees = staff_client.get("/api/v1/apis/backed/").json()

    assert not BACKEND_FIELDS & set(detail)
    assert not BACKEND_FIELDS & set(listed)
    assert "10.0.0.7" not in str(detail)
    assert staff_sees["upstream_url"] == "http://10.0.0.7:8080/internal"
    assert staff_sees["upstream_header"] == "X-Api-Key"
    assert staff_sees["has_upstream_credential"] is False


def test_developers_get_the_openapi_document_with_the_gateway_as_its_server(
    alice_client, staff_client
):
    ApiFactory(slug="documented", openapi=BACKEND_DOCUMENT, published=True)

    document = alice_client.get("/api/v1/apis/documented/").json()["openapi"]
    staff_document = staff_client.get("/api/v1/apis/documented/").json()["openapi"]

    assert document["servers"] == [{"url": "http://testserver/gw/documented"}]
    assert "10.0.0." not in str(document)
    assert document["paths"]["/items"]["get"]["summary"] == "Items"
    assert staff_document == BACKEND_DOCUMENT


def test_schema_says_which_fields_only_staff_receive(staff_client):
    component = staff_client.get("/api/v1/schema/?format=json").json()["components"]["schemas"]
    api = component["Api"]

    for name in BACKEND_FIELDS:
        assert api["properties"][name]["description"].startswith("Staff only."), name
        assert name not in api["required"], name


def test_developers_cannot_create_apis(alice_client):
    assert_problem(alice_client.post("/api/v1/apis/", NEW_API, format="json"), 403)


def test_anonymous_callers_get_401_problem(anon_client, catalog):
    response = anon_client.get("/api/v1/apis/")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_rest_api_without_upstream_is_refused_naming_the_field(staff_client):
    body = assert_problem(
        staff_client.post("/api/v1/apis/", {**NEW_API, "upstream_url": ""}, format="json"), 400
    )
    assert "upstream_url" in body["errors"]


def test_duplicate_slug_is_refused(staff_client):
    staff_client.post("/api/v1/apis/", NEW_API, format="json")
    body = assert_problem(
        staff_client.post("/api/v1/apis/", {**NEW_API, "version": "v3"}, format="json"), 400
    )
    assert "slug" in body["errors"]


def test_staff_patch_an_api(staff_client, catalog):
    response = staff_client.patch(
        "/api/v1/apis/maps/", {"description": "Vector tiles", "tags": ["geo"]}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["description"] == "Vector tiles"
    assert response.json()["tags"] == ["geo"]


def test_state_cannot_be_patched(staff_client, catalog):
    body = assert_problem(
        staff_client.patch("/api/v1/apis/draft/", {"state": "published"}, format="json"), 400
    )
    assert "state" in body["errors"]
    catalog["design"].refresh_from_db()
    assert catalog["design"].state == "design"


def test_developers_cannot_patch_apis(alice_client, catalog):
    assert_problem(alice_client.patch("/api/v1/apis/maps/", {"name": "x"}, format="json"), 403)


# Transitions and history ----------------------------------------------------------------------


def test_staff_publish_an_api_with_a_plan(staff_client, catalog):
    PlanFactory(api=catalog["design"])
    response = staff_client.post(
        "/api/v1/apis/draft/transition/", {"to": "published", "note": "go"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "published"


def test_forbidden_transition_answers_409_naming_the_allowed_ones(staff_client, catalog):
    body = assert_problem(
        staff_client.post("/api/v1/apis/maps/transition/", {"to": "retired"}, format="json"), 409
    )
    assert body["allowed"] == ["deprecated"]
    assert "deprecated" in body["detail"]


def test_publishing_without_a_plan_answers_409(staff_client, catalog):
    body = assert_problem(
        staff_client.post("/api/v1/apis/draft/transition/", {"to": "published"}, format="json"),
        409,
    )
    assert "plan" in body["detail"]


def test_transition_to_an_unknown_state_names_the_field(staff_client, catalog):
    body = assert_problem(
        staff_client.post("/api/v1/apis/maps/transition/", {"to": "gone"}, format="json"), 400
    )
    assert "to" in body["errors"]


def test_deprecation_sets_the_sunset(staff_client, catalog):
    response = staff_client.post(
        "/api/v1/apis/maps/transition/",
        {"to": "deprecated", "sunset": "2030-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["sunset"].startswith("2030-01-01T00:00:00")


def test_developers_cannot_transition(alice_client, catalog):
    assert_problem(
        alice_client.post("/api/v1/apis/maps/transition/", {"to": "deprecated"}, format="json"),
        403,
    )


def test_history_lists_every_transition(staff_client, staff, catalog):
    staff_client.post(
        "/api/v1/apis/maps/transition/", {"to": "deprecated", "note": "v2 is out"}, format="json"
    )
    events = staff_client.get("/api/v1/apis/maps/history/").json()["results"]
    assert [(e["from"], e["to"]) for e in events] == [
        ("published", "deprecated"),
        ("design", "published"),
    ]
    assert events[0]["actor"] == staff.username
    assert events[0]["note"] == "v2 is out"
    assert events[0]["at"]


def test_developers_cannot_read_history(alice_client, catalog):
    assert_problem(alice_client.get("/api/v1/apis/maps/history/"), 403)


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="row locks need PostgreSQL; SQLite serialises whole-database writes instead",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_transitions_of_one_api_let_exactly_one_through():
    from rest_framework.test import APIClient

    staff = StaffFactory(username="racer")
    api = ApiFactory(slug="contended", published=True)
    start = threading.Barrier(2)
    statuses: list[int] = []

    def deprecate() -> None:
        client = APIClient()
        client.force_authenticate(staff)
        start.wait()
        try:
            response = client.post(
                "/api/v1/apis/contended/transition/", {"to": "deprecated"}, format="json"
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deprecate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    assert history_of(api).filter(to_state="deprecated").count() == 1
    assert LifecycleEvent.objects.filter(object_id=str(api.pk)).count() == 2


# Plans ----------------------------------------------------------------------------------------


def test_signed_in_users_read_plans(alice_client, catalog):
    response = alice_client.get("/api/v1/apis/maps/plans/")
    assert response.status_code == 200
    assert len(response.json()) == 1


def test_developers_cannot_read_plans_of_design_apis(alice_client, catalog):
    PlanFactory(api=catalog["design"])
    assert_problem(alice_client.get("/api/v1/apis/draft/plans/"), 404)


def test_staff_add_a_plan(staff_client, catalog):
    plan = {"name": "gold", "rate_limit": "10/15m", "monthly_quota": 1000, "token_quota": None}
    response = staff_client.post("/api/v1/apis/draft/plans/", plan, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["rate_limit"] == "10/15m"
    assert response.json()["requires_approval"] is False


def test_staff_give_a_plan_a_monthly_budget_and_a_negative_one_is_refused(staff_client, catalog):
    plans = "/api/v1/apis/draft/plans/"
    gold = staff_client.post(plans, {"name": "gold", "monthly_budget": "12.50"}, format="json")
    negative = staff_client.post(plans, {"name": "red", "monthly_budget": "-1"}, format="json")

    assert gold.status_code == 201, gold.content
    assert Decimal(gold.json()["monthly_budget"]) == Decimal("12.5")
    assert catalog["design"].plans.get(name="gold").monthly_budget == Decimal("12.5")
    assert "monthly_budget" in assert_problem(negative, 400)["errors"]


def test_a_bad_rate_limit_is_refused_naming_the_field(staff_client, catalog):
    body = assert_problem(
        staff_client.post(
            "/api/v1/apis/draft/plans/", {"name": "x", "rate_limit": "often"}, format="json"
        ),
        400,
    )
    assert "rate_limit" in body["errors"]


def test_developers_cannot_add_plans(alice_client, catalog):
    assert_problem(
        alice_client.post("/api/v1/apis/maps/plans/", {"name": "free"}, format="json"), 403
    )


# Subscriptions --------------------------------------------------------------------------------


def subscribe(client, application, api, plan=None):
    plan = plan or api.plans.first()
    return client.post(
        "/api/v1/subscriptions/",
        {"application": application.pk, "api": api.slug, "plan": plan.pk},
        format="json",
    )


def test_subscription_to_an_open_plan_is_active(alice_client, alice, catalog):
    app = ApplicationFactory(owner=alice)
    response = subscribe(alice_client, app, catalog["published"])
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "active"
    assert response.json()["api"] == "maps"


def test_subscription_to_a_plan_requiring_approval_is_pending(alice_client, alice, catalog):
    plan = PlanFactory(api=catalog["published"], requires_approval=True)
    response = subscribe(alice_client, ApplicationFactory(owner=alice), catalog["published"], plan)
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "pending"


def test_second_live_subscription_to_the_same_api_answers_409(alice_client, alice, catalog):
    app = ApplicationFactory(owner=alice)
    subscribe(alice_client, app, catalog["published"])
    assert_problem(subscribe(alice_client, app, catalog["published"]), 409)


def test_subscribing_to_a_deprecated_api_is_refused(alice_client, alice, catalog):
    body = assert_problem(
        subscribe(alice_client, ApplicationFactory(owner=alice), catalog["deprecated"]), 409
    )
    assert "deprecated" in body["detail"]


def test_staff_cannot_subscribe_to_a_design_api_either(staff_client, staff, catalog):
    plan = PlanFactory(api=catalog["design"])
    body = assert_problem(
        subscribe(staff_client, ApplicationFactory(owner=staff), catalog["design"], plan), 409
    )
    assert "design" in body["detail"]


def test_developers_cannot_subscribe_to_design_or_retired_apis(alice_client, alice, catalog):
    app = ApplicationFactory(owner=alice)
    plan = PlanFactory(api=catalog["design"])
    body = assert_problem(subscribe(alice_client, app, catalog["design"], plan), 400)
    assert body["errors"]["api"] == ["No API with this slug."]
    retired = subscribe(alice_client, app, Api.objects.get(slug="gone"))
    assert assert_problem(retired, 400)["errors"]["api"] == ["No API with this slug."]
    assert not Subscription.objects.exists()


def test_a_plan_of_another_api_is_refused(alice_client, alice, catalog):
    other = ApiFactory(published=True)
    body = assert_problem(
        subscribe(
            alice_client, ApplicationFactory(owner=alice), catalog["published"], other.plans.get()
        ),
        400,
    )
    assert "plan" in body["detail"].lower()


def test_another_developers_application_is_refused_without_leaking_it(bob_client, alice, catalog):
    alices_app = ApplicationFactory(owner=alice)
    stolen = assert_problem(subscribe(bob_client, alices_app, catalog["published"]), 400)
    missing = bob_client.post(
        "/api/v1/subscriptions/",
        {"application": alices_app.pk + 1000, "api": "maps", "plan": 1},
        format="json",
    ).json()
    assert stolen["errors"]["application"] == missing["errors"]["application"]
    assert not Subscription.objects.exists()


def test_developers_list_only_their_own_subscriptions(alice_client, bob_client, alice, catalog):
    SubscriptionFactory(application=ApplicationFactory(owner=alice), api=catalog["published"])
    assert len(alice_client.get("/api/v1/subscriptions/").json()["results"]) == 1
    assert bob_client.get("/api/v1/subscriptions/").json()["results"] == []


@pytest.mark.parametrize(
    ("method", "suffix"), [("get", ""), ("post", "revoke/")], ids=["retrieve", "revoke"]
)
def test_another_developers_subscription_is_404(bob_client, alice, catalog, method, suffix):
    sub = SubscriptionFactory(application=ApplicationFactory(owner=alice), api=catalog["published"])
    assert_problem(getattr(bob_client, method)(f"/api/v1/subscriptions/{sub.pk}/{suffix}"), 404)
    sub.refresh_from_db()
    assert sub.status == "active"


def test_owner_revokes_a_subscription(alice_client, alice, catalog):
    sub = SubscriptionFactory(application=ApplicationFactory(owner=alice), api=catalog["published"])
    response = alice_client.post(f"/api/v1/subscriptions/{sub.pk}/revoke/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "revoked"
    assert_problem(alice_client.post(f"/api/v1/subscriptions/{sub.pk}/revoke/"), 409)


@pytest.mark.parametrize(("decision", "status"), [("approve", "active"), ("reject", "rejected")])
def test_staff_decide_pending_subscriptions(staff_client, alice, catalog, decision, status):
    sub = SubscriptionFactory(
        application=ApplicationFactory(owner=alice), api=catalog["published"], status="pending"
    )
    response = staff_client.post(f"/api/v1/subscriptions/{sub.pk}/{decision}/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == status


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_developers_cannot_decide_even_their_own_subscriptions(
    alice_client, alice, catalog, decision
):
    sub = SubscriptionFactory(
        application=ApplicationFactory(owner=alice), api=catalog["published"], status="pending"
    )
    assert_problem(alice_client.post(f"/api/v1/subscriptions/{sub.pk}/{decision}/"), 403)
    sub.refresh_from_db()
    assert sub.status == "pending"


def test_approving_an_active_subscription_answers_409(staff_client, alice, catalog):
    sub = SubscriptionFactory(application=ApplicationFactory(owner=alice), api=catalog["published"])
    assert_problem(staff_client.post(f"/api/v1/subscriptions/{sub.pk}/approve/"), 409)


# Auth, schema, docs ---------------------------------------------------------------------------


def test_login_with_a_password_then_call_with_the_bearer_token(alice, catalog):
    from rest_framework.test import APIClient

    client = APIClient()
    tokens = client.post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": "correct-horse-battery"},
        format="json",
    ).json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert slugs(client.get("/api/v1/apis/")) == {"maps", "old-maps"}
    refreshed = client.post(
        "/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    assert client.get("/api/v1/apps/").status_code == 200


def test_a_wrong_password_gets_401_problem(alice, anon_client):
    response = anon_client.post(
        "/api/v1/auth/token/", {"username": "alice", "password": "nope"}, format="json"
    )
    assert_problem(response, 401)


def test_a_forged_bearer_token_gets_401_problem(anon_client, catalog):
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    assert_problem(anon_client.get("/api/v1/apis/"), 401)


def test_schema_is_openapi_3_listing_the_endpoints(alice_client):
    response = alice_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in (
        "/api/v1/apis/",
        "/api/v1/apis/{slug}/transition/",
        "/api/v1/apis/{slug}/plans/",
        "/api/v1/apps/{id}/rotate-secret/",
        "/api/v1/subscriptions/{id}/revoke/",
    ):
        assert path in schema["paths"]


def test_docs_page_is_served_from_the_project_without_a_cdn(alice_client):
    response = alice_client.get("/api/v1/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="swagger-ui"' in page
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets
    assert all(asset.startswith("/") for asset in assets), assets
    for asset in assets:
        assert alice_client.get(asset).status_code == 200, asset


def test_schema_generates_without_warnings_and_validates(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
    schema = (tmp_path / "s.yaml").read_text()
    assert "/api/v1/subscriptions/{id}/approve/" in schema
    assert "/gw/" not in schema
