"""The management REST API of applications: secrets shown once, rotation, ownership."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings

from keys.models import Application
from keys.services import application_authenticate
from teams.services import personal_team_ensure
from tests.factories import ApplicationFactory
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


def test_creating_an_application_shows_its_secret_once(alice_client):
    response = alice_client.post("/api/v1/apps/", {"name": "mobile"}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["name"] == "mobile"
    assert created["client_secret"].startswith("pcs_")
    assert application_authenticate(
        client_id=created["client_id"], client_secret=created["client_secret"]
    )
    shown_again = alice_client.get(f"/api/v1/apps/{created['id']}/").json()
    listed = alice_client.get("/api/v1/apps/").json()["results"]
    assert "client_secret" not in shown_again
    assert all("client_secret" not in app for app in listed)


def test_the_secret_is_stored_only_as_a_hash(alice_client):
    created = alice_client.post("/api/v1/apps/", {"name": "cli"}, format="json").json()
    stored = Application.objects.get(pk=created["id"]).secret_hash
    assert created["client_secret"] not in stored


def test_rotating_the_secret_retires_the_old_one(alice_client):
    created = alice_client.post("/api/v1/apps/", {"name": "web"}, format="json").json()
    response = alice_client.post(f"/api/v1/apps/{created['id']}/rotate-secret/")
    assert response.status_code == 200, response.content
    rotated = response.json()
    assert rotated["client_secret"] != created["client_secret"]
    assert rotated["secret_rotated_at"]
    client_id = created["client_id"]
    assert (
        application_authenticate(client_id=client_id, client_secret=created["client_secret"])
        is None
    )
    assert application_authenticate(client_id=client_id, client_secret=rotated["client_secret"])


def test_developers_list_only_their_own_applications(alice_client, bob_client, alice):
    ApplicationFactory(owner=alice, name="alices")
    assert [app["name"] for app in alice_client.get("/api/v1/apps/").json()["results"]] == [
        "alices"
    ]
    assert bob_client.get("/api/v1/apps/").json()["results"] == []


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("delete", ""), ("post", "rotate-secret/")],
    ids=["retrieve", "delete", "rotate-secret"],
)
def test_another_developers_application_is_404(bob_client, alice, method, suffix):
    app = ApplicationFactory(owner=alice)
    before = app.secret_hash
    assert_problem(getattr(bob_client, method)(f"/api/v1/apps/{app.pk}/{suffix}"), 404)
    app.refresh_from_db()
    assert app.secret_hash == before


def test_owner_deletes_an_application(alice_client, alice):
    app = ApplicationFactory(owner=alice)
    assert alice_client.delete(f"/api/v1/apps/{app.pk}/").status_code == 204
    assert not Application.objects.filter(pk=app.pk).exists()


def test_two_applications_of_one_developer_cannot_share_a_name(alice_client, bob_client):
    alice_client.post("/api/v1/apps/", {"name": "twin"}, format="json")
    assert_problem(alice_client.post("/api/v1/apps/", {"name": "twin"}, format="json"), 409)
    assert bob_client.post("/api/v1/apps/", {"name": "twin"}, format="json").status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [({}, "name"), ({"name": ""}, "name"), ({"name": 7, "client_id": "mine"}, "client_id")],
)
def test_bad_application_input_names_the_field(alice_client, payload, field):
    body = assert_problem(alice_client.post("/api/v1/apps/", payload, format="json"), 400)
    assert field in body["errors"]


def test_anonymous_callers_cannot_create_applications(anon_client):
    assert_problem(anon_client.post("/api/v1/apps/", {"name": "x"}, format="json"), 401)
    assert not Application.objects.exists()


def test_a_page_holds_at_most_a_thousand_rows_whatever_limit_is_asked(alice_client, alice):
    team = personal_team_ensure(alice)
    rows = [Application(team=team, name=f"bulk-{n}", secret_hash="x") for n in range(1001)]
    Application.objects.bulk_create(rows)

    page = alice_client.get("/api/v1/apps/", {"limit": 10**20}).json()

    assert page["count"] == 1001
    assert len(page["results"]) == 1000
    assert page["next"]


def test_an_account_holds_at_most_the_configured_number_of_applications(alice_client):
    keys = {**settings.PORTCULLIS["KEYS"], "MAX_APPLICATIONS_PER_OWNER": 2}
    with override_settings(PORTCULLIS={**settings.PORTCULLIS, "KEYS": keys}):
        statuses = [
            alice_client.post("/api/v1/apps/", {"name": f"app-{n}"}, format="json").status_code
            for n in range(3)
        ]

    assert statuses == [201, 201, 409]
