"""Provider teams: an API's team manages it (details, plans, lifecycle, approvals) in the
management API and in Django admin, sees only its own there, and gets the approval requests."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core import mail
from django.test import Client

from apis.models import Subscription
from apis.services import api_transition
from tests.factories import ApiFactory, PlanFactory, SubscriptionFactory
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_api(acme):
    """An API of Acme's, still in design."""
    return ApiFactory(slug="acme-orders", team=acme, upstream_url="http://127.0.0.1:9/orders/")


@pytest.fixture
def globex_api(globex):
    return ApiFactory(slug="globex-maps", team=globex, published=True)


def test_the_apis_team_sees_it_in_design_with_its_upstream_others_do_not(
    acme_api, alice_client, bob_client, vic, as_user
):
    mine = alice_client.get("/api/v1/apis/acme-orders/")

    assert mine.status_code == 200 and mine.json()["upstream_url"] == "http://127.0.0.1:9/orders/"
    assert mine.json()["team"] == acme_api.team_id
    assert "upstream_url" not in as_user(vic).get("/api/v1/apis/acme-orders/").json()
    assert_problem(bob_client.get("/api/v1/apis/acme-orders/"), 404)
    assert "acme-orders" not in [
        a["slug"] for a in bob_client.get("/api/v1/apis/").json()["results"]
    ]


def test_owners_and_admins_change_details_plans_and_lifecycle(acme_api, alice_client, ada, as_user):
    url = "/api/v1/apis/acme-orders/"

    patched = alice_client.patch(url, {"description": "Orders of Acme."}, format="json")
    plan = as_user(ada).post(f"{url}plans/", {"name": "free", "rate_limit": "60/m"}, format="json")
    published = alice_client.post(f"{url}transition/", {"to": "published"}, format="json")
    history = as_user(ada).get(f"{url}history/")

    assert patched.status_code == 200 and patched.json()["description"] == "Orders of Acme."
    assert plan.status_code == 201, plan.content
    assert published.status_code == 200 and published.json()["state"] == "published"
    assert [event["to"] for event in history.json()["results"]] == ["published"]


def test_developers_of_the_team_and_other_teams_cannot_change_it(
    acme_api, globex_api, alice_client, bob_client, dan, as_user
):
    PlanFactory(api=acme_api)
    url = "/api/v1/apis/acme-orders/"

    assert_problem(as_user(dan).patch(url, {"description": "x"}, format="json"), 403)
    assert_problem(as_user(dan).post(f"{url}transition/", {"to": "published"}, format="json"), 403)
    assert_problem(as_user(dan).get(f"{url}history/"), 403)
    theirs = "/api/v1/apis/globex-maps/"
    assert_problem(alice_client.patch(theirs, {"description": "x"}, format="json"), 403)
    assert_problem(alice_client.post(f"{theirs}plans/", {"name": "mine"}, format="json"), 403)
    assert_problem(alice_client.post(f"{theirs}transition/", {"to": "retired"}, format="json"), 403)
    assert_problem(bob_client.patch(url, {"description": "x"}, format="json"), 404)
    acme_api.refresh_from_db()
    assert (acme_api.description, acme_api.state) == ("An API for tests.", "design")


def test_only_staff_create_apis_and_set_their_team(acme_api, globex, alice_client, staff_client):
    body = {"slug": "new", "name": "New", "upstream_url": "http://127.0.0.1:9/"}

    assert_problem(alice_client.post("/api/v1/apis/", body, format="json"), 403)
    moved = alice_client.patch("/api/v1/apis/acme-orders/", {"team": globex.pk}, format="json")
    assert_problem(moved, 403)
    by_staff = staff_client.patch("/api/v1/apis/acme-orders/", {"team": globex.pk}, format="json")
    assert by_staff.status_code == 200 and by_staff.json()["team"] == globex.pk


@pytest.fixture
def pending(acme_api, globex_app, django_capture_on_commit_callbacks, bob_client):
    """Globex's application asks for Acme's plan that needs approval."""
    plan = PlanFactory(api=acme_api, name="partner", requires_approval=True)
    api_transition(api=acme_api, to="published", actor=None)
    body = {"application": globex_app.pk, "api": acme_api.slug, "plan": plan.pk}
    with django_capture_on_commit_callbacks(execute=True):
        created = bob_client.post("/api/v1/subscriptions/", body, format="json")
    assert created.status_code == 201, created.content
    return Subscription.objects.get(pk=created.json()["id"])


def test_approval_requests_go_to_the_apis_team(pending):
    assert pending.status == "pending"
    assert [message.to for message in mail.outbox] == [["ada@example.com", "alice@example.com"]]
    assert "globex-shop" in mail.outbox[0].body and "acme-orders" in mail.outbox[0].subject


def test_the_apis_team_approves_others_cannot(pending, alice_client, bob_client, dan, as_user):
    url = f"/api/v1/subscriptions/{pending.pk}/"

    assert_problem(bob_client.post(f"{url}approve/"), 403)
    assert_problem(as_user(dan).post(f"{url}approve/"), 404)
    approved = alice_client.post(f"{url}approve/")

    assert approved.status_code == 200 and approved.json()["status"] == "active"


def test_a_subscription_to_another_teams_api_is_404(
    globex_api, acme_app, alice_client, ada, as_user
):
    theirs = SubscriptionFactory(api=globex_api, status="pending")

    assert_problem(alice_client.post(f"/api/v1/subscriptions/{theirs.pk}/approve/"), 404)
    assert_problem(as_user(ada).get(f"/api/v1/subscriptions/{theirs.pk}/"), 404)


# Django admin ----------------------------------------------------------------------------------


@pytest.fixture
def ada_admin(ada) -> Client:
    """Ada, Acme's admin, given the staff flag to enter the admin, and no model permission."""
    ada.is_staff = True
    ada.save()
    client = Client()
    client.force_login(ada)
    return client


def test_in_admin_a_provider_team_sees_only_its_own_apis(acme_api, globex_api, ada_admin):
    listed = ada_admin.get("/admin/apis/api/")

    assert listed.status_code == 200
    assert "acme-orders" in listed.text and "globex-maps" not in listed.text
    assert ada_admin.get(f"/admin/apis/api/{acme_api.pk}/change/").status_code == 200
    assert ada_admin.get(f"/admin/apis/api/{globex_api.pk}/change/").status_code == 404
    assert ada_admin.get(f"/admin/apis/plan/{globex_api.plans.get().pk}/change/").status_code == 404


def test_in_admin_a_provider_team_changes_its_api_but_not_its_team(acme_api, globex, ada_admin):
    page = ada_admin.get(f"/admin/apis/api/{acme_api.pk}/change/")

    assert 'name="description"' in page.text
    assert 'name="team"' not in page.text


def test_in_admin_a_provider_team_approves_subscriptions_to_its_apis_only(
    pending, globex_api, ada_admin
):
    theirs = SubscriptionFactory(api=globex_api, status="pending")
    listed = ada_admin.get("/admin/apis/subscription/")
    data = {"action": "approve", ACTION_CHECKBOX_NAME: [pending.pk, theirs.pk]}

    ada_admin.post("/admin/apis/subscription/", data)

    assert str(pending.pk) in listed.text
    assert f"/admin/apis/subscription/{theirs.pk}/change/" not in listed.text
    pending.refresh_from_db()
    theirs.refresh_from_db()
    assert (pending.status, theirs.status) == ("active", "pending")


def test_in_admin_staff_keep_everything(acme_api, globex_api, staff):
    client = Client()
    client.force_login(staff)

    listed = client.get("/admin/apis/api/")

    assert "acme-orders" in listed.text and "globex-maps" in listed.text


def test_the_staff_flag_alone_does_not_open_what_runs_the_whole_catalog(ada_admin):
    """Ada holds the staff flag for her team's APIs in admin: AI providers, prompts, the
    OpenAPI import, metrics and the health details stay with the staff who run the catalog."""
    assert_problem(ada_admin.get("/api/v1/providers/"), 403)
    assert_problem(ada_admin.get("/api/v1/prompts/"), 403)
    assert_problem(ada_admin.post("/api/v1/apis/import/", {}, content_type="application/json"), 403)
    assert ada_admin.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code in (401, 403)
