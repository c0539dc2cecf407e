"""The management API by team: teams, members, invitations, and every ownership rule held per
team for applications, credentials, subscriptions and usage."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from apis.usage.services import usage_events_store, usage_rollup
from keys.models import Application
from teams.models import Invitation, Membership, Role
from tests.factories import ApiFactory, SubscriptionFactory, UserFactory
from tests.problems import assert_problem
from tests.usage.conftest import record

pytestmark = pytest.mark.django_db


def test_creating_a_team_makes_the_caller_its_owner(alice_client):
    created = alice_client.post("/api/v1/teams/", {"name": "payments"}, format="json")

    assert created.status_code == 201, created.content
    assert {**created.json(), "id": 0, "created_at": ""} == {
        "id": 0,
        "name": "payments",
        "role": "owner",
        "personal": False,
        "created_at": "",
    }
    listed = alice_client.get("/api/v1/teams/").json()["results"]
    assert sorted((team["name"], team["role"]) for team in listed) == [
        ("alice", "owner"),
        ("payments", "owner"),
    ]


def test_another_teams_application_answers_404_everywhere(acme, globex_app, alice_client):
    url = f"/api/v1/apps/{globex_app.pk}/"

    assert_problem(alice_client.get(url), 404)
    assert_problem(alice_client.post(f"{url}rotate-secret/"), 404)
    assert_problem(alice_client.delete(url), 404)
    assert globex_app.pk not in [
        a["id"] for a in alice_client.get("/api/v1/apps/").json()["results"]
    ]
    assert Application.objects.filter(pk=globex_app.pk).exists()


def test_members_share_the_teams_applications(acme, alice_client, dan, as_user):
    created = as_user(dan).post("/api/v1/apps/", {"name": "mobile", "team": acme.pk}, format="json")

    assert created.status_code == 201, created.content
    assert created.json()["team"] == acme.pk and created.json()["client_secret"]
    listed = alice_client.get("/api/v1/apps/", {"team": acme.pk}).json()["results"]
    assert [app["name"] for app in listed] == ["mobile"]
    assert "client_secret" not in listed[0]


def test_without_a_team_an_application_goes_to_the_personal_team(alice_client, alice):
    created = alice_client.post("/api/v1/apps/", {"name": "cli"}, format="json").json()

    assert Application.objects.get(pk=created["id"]).team == alice.personal_team


def test_a_team_the_caller_is_not_in_cannot_be_named(globex, alice_client):
    response = alice_client.post("/api/v1/apps/", {"name": "x", "team": globex.pk}, format="json")

    assert assert_problem(response, 400)["errors"]["team"] == ["You are in no team with this id."]


def test_a_viewer_reads_but_every_write_is_403(acme, acme_app, vic, as_user):
    viewer = as_user(vic)
    api = ApiFactory(published=True)

    assert viewer.get(f"/api/v1/apps/{acme_app.pk}/").status_code == 200
    assert_problem(viewer.post("/api/v1/apps/", {"name": "x", "team": acme.pk}, format="json"), 403)
    assert_problem(viewer.post(f"/api/v1/apps/{acme_app.pk}/rotate-secret/"), 403)
    assert_problem(viewer.delete(f"/api/v1/apps/{acme_app.pk}/"), 403)
    subscribe = {"application": acme_app.pk, "api": api.slug, "plan": api.plans.get().pk}
    assert_problem(viewer.post("/api/v1/subscriptions/", subscribe, format="json"), 403)
    invite = {"email": "x@example.com", "role": "viewer"}
    assert_problem(viewer.post(f"/api/v1/teams/{acme.pk}/invitations/", invite, format="json"), 403)
    assert not acme_app.subscriptions.exists()


def test_credentials_are_for_admins_and_owners_applications_for_developers(
    acme, acme_app, ada, dan, as_user
):
    assert_problem(as_user(dan).post(f"/api/v1/apps/{acme_app.pk}/rotate-secret/"), 403)
    rotated = as_user(ada).post(f"/api/v1/apps/{acme_app.pk}/rotate-secret/")
    assert rotated.status_code == 200 and rotated.json()["client_secret"].startswith("pcs_")
    assert as_user(dan).delete(f"/api/v1/apps/{acme_app.pk}/").status_code == 204


def test_another_teams_subscription_and_usage_stay_hidden(acme, globex_app, alice_client):
    theirs = SubscriptionFactory(application=globex_app)
    usage_events_store(entries=[("1-0", record(theirs.api, globex_app))])
    usage_rollup()

    assert_problem(alice_client.get(f"/api/v1/subscriptions/{theirs.pk}/"), 404)
    assert_problem(alice_client.post(f"/api/v1/subscriptions/{theirs.pk}/revoke/"), 404)
    assert alice_client.get("/api/v1/subscriptions/").json()["results"] == []
    assert alice_client.get("/api/v1/usage/").json()["results"] == []
    assert_problem(alice_client.get("/api/v1/usage/", {"application": globex_app.pk}), 400)


def test_every_member_reads_the_teams_usage(acme_app, vic, as_user):
    api = ApiFactory(published=True)
    usage_events_store(entries=[("1-0", record(api, acme_app))])
    usage_rollup()

    rows = as_user(vic).get("/api/v1/usage/").json()["results"]

    assert [(row["application"], row["requests"]) for row in rows] == [(acme_app.pk, 1)]


def test_members_are_listed_to_members_only(acme, alice_client, bob_client):
    rows = alice_client.get(f"/api/v1/teams/{acme.pk}/members/").json()["results"]

    assert [(row["username"], row["role"]) for row in rows] == [
        ("ada", "admin"),
        ("alice", "owner"),
        ("dan", "developer"),
        ("vic", "viewer"),
    ]
    assert_problem(bob_client.get(f"/api/v1/teams/{acme.pk}/members/"), 404)
    assert_problem(bob_client.get(f"/api/v1/teams/{acme.pk}/"), 404)


def _invite(client, team, email="carol@example.com", role="developer"):
    body = {"email": email, "role": role}
    return client.post(f"/api/v1/teams/{team.pk}/invitations/", body, format="json")


def test_an_invitation_is_emailed_and_joins_once(
    acme, alice_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = _invite(alice_client, acme)
    assert created.status_code == 201, created.content
    accept_url = created.json()["accept_url"]
    assert mail.outbox[0].to == ["carol@example.com"]
    assert accept_url in mail.outbox[0].body
    token = re.search(r"pct_[\w-]+", accept_url)[0]
    assert token not in Invitation.objects.get().token_digest

    carol = UserFactory(username="carol")
    accepted = _client(carol).post(accept_url)
    again = _client(UserFactory(username="mallory")).post(accept_url)

    assert accepted.status_code == 200, accepted.content
    assert (accepted.json()["team"], accepted.json()["role"]) == ("acme", "developer")
    assert Membership.objects.get(team=acme, user=carol).role == Role.DEVELOPER
    assert_problem(again, 404)
    assert not Membership.objects.filter(user__username="mallory", team=acme).exists()


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_an_expired_invitation_fails(acme, alice_client):
    accept_url = _invite(alice_client, acme).json()["accept_url"]
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert_problem(_client(UserFactory(username="carol")).post(accept_url), 404)
    assert not Membership.objects.filter(team=acme, user__username="carol").exists()


def test_nobody_is_invited_as_owner_nor_to_a_personal_team(acme, alice, alice_client):
    assert_problem(_invite(alice_client, acme, role="owner"), 400)
    assert_problem(_invite(alice_client, alice.personal_team), 409)


def test_accepting_needs_a_signed_in_user(acme, alice_client):
    accept_url = _invite(alice_client, acme).json()["accept_url"]

    assert APIClient().post(accept_url).status_code in (401, 403)
    assert Invitation.objects.get().accepted_at is None


def _bearer(user) -> APIClient:
    """A client with a real user token from /api/v1/auth/token/, as scripts sign in."""
    user.set_password("correct-horse-battery")
    user.save()
    body = {"username": user.username, "password": "correct-horse-battery"}
    access = APIClient().post("/api/v1/auth/token/", body, format="json").json()["access"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def test_a_removed_members_next_request_fails(acme, acme_app, alice_client, dan):
    token_client = _bearer(dan)
    assert token_client.get(f"/api/v1/apps/{acme_app.pk}/").status_code == 200

    assert alice_client.delete(f"/api/v1/teams/{acme.pk}/members/{dan.pk}/").status_code == 204

    assert_problem(token_client.get(f"/api/v1/apps/{acme_app.pk}/"), 404)
    assert_problem(token_client.get(f"/api/v1/teams/{acme.pk}/members/"), 404)


def test_a_member_who_leaves_loses_access_at_once(acme, acme_app, dan, as_user):
    client = as_user(dan)

    assert client.delete(f"/api/v1/teams/{acme.pk}/members/{dan.pk}/").status_code == 204
    assert_problem(client.get(f"/api/v1/apps/{acme_app.pk}/"), 404)


def test_the_last_owner_cannot_leave(acme, alice, alice_client, ada):
    url = f"/api/v1/teams/{acme.pk}/members/"

    body = assert_problem(alice_client.delete(f"{url}{alice.pk}/"), 409)
    assert "last owner" in body["detail"]
    promoted = alice_client.patch(f"{url}{ada.pk}/", {"role": "owner"}, format="json")
    assert promoted.json() == {"user": ada.pk, "username": "ada", "role": "owner"}
    assert alice_client.delete(f"{url}{alice.pk}/").status_code == 204


def test_admins_manage_members_but_not_owners(acme, alice, ada, dan, vic, as_user):
    admin = as_user(ada)
    url = f"/api/v1/teams/{acme.pk}/members/"

    assert_problem(admin.delete(f"{url}{alice.pk}/"), 403)
    assert_problem(admin.patch(f"{url}{dan.pk}/", {"role": "owner"}, format="json"), 403)
    assert admin.patch(f"{url}{dan.pk}/", {"role": "viewer"}, format="json").status_code == 200
    assert_problem(as_user(dan).delete(f"{url}{vic.pk}/"), 403)
    assert admin.delete(f"{url}{vic.pk}/").status_code == 204
    assert set(Membership.objects.filter(team=acme).values_list("user__username", "role")) == {
        ("alice", "owner"),
        ("ada", "admin"),
        ("dan", "viewer"),
    }
