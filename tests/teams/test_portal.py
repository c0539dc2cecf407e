"""The portal by team: the switcher, each page showing the current team's objects, roles,
invitations by e-mail, and a removed member's session losing the team at once."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from keys.models import Application
from teams.models import Membership
from tests.factories import ApplicationFactory, SubscriptionFactory, UserFactory

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def switch(client: Client, team) -> None:
    response = client.post("/teams/switch/", {"team": team.pk, "next": "/apps/"})
    assert response.status_code == 302 and response["Location"] == "/apps/"


def test_the_switcher_shows_one_team_at_a_time(acme, acme_app, alice):
    ApplicationFactory(owner=alice, name="personal-tool")
    client = browser(alice)

    personal = client.get("/apps/").content.decode()
    switch(client, acme)
    shared = client.get("/apps/").content.decode()

    assert "personal-tool" in personal and "acme-shop" not in personal
    assert "acme-shop" in shared and "personal-tool" not in shared
    assert f'<option value="{acme.pk}" selected>acme (owner)</option>' in shared


def test_a_team_the_user_is_not_in_cannot_be_switched_to(globex, alice):
    client = browser(alice)

    assert client.post("/teams/switch/", {"team": globex.pk}).status_code == 404
    assert "globex" not in client.get("/apps/").content.decode()


def test_an_application_created_in_the_portal_belongs_to_the_current_team(acme, dan):
    client = browser(dan)
    switch(client, acme)

    response = client.post("/apps/", {"name": "mobile"})

    assert response.status_code == 200 and "pcs_" in response.content.decode()
    assert Application.objects.get(name="mobile").team == acme


def test_another_teams_application_answers_404_in_the_portal(acme, globex_app, alice):
    client = browser(alice)
    switch(client, acme)

    assert client.post(f"/apps/{globex_app.pk}/rotate/").status_code == 404
    assert client.post(f"/apps/{globex_app.pk}/delete/").status_code == 404
    assert Application.objects.filter(pk=globex_app.pk).exists()


def test_a_viewer_sees_the_teams_pages_and_cannot_write(acme, acme_app, vic):
    client = browser(vic)
    switch(client, acme)

    page = client.get("/apps/").content.decode()

    assert "acme-shop" in page and "Create application" not in page and "Rotate secret" not in page
    assert client.post("/apps/", {"name": "x"}).status_code == 403
    assert client.post(f"/apps/{acme_app.pk}/rotate/").status_code == 403
    assert client.post(f"/apps/{acme_app.pk}/delete/").status_code == 403
    assert client.get("/usage/").status_code == 200
    assert list(Application.objects.filter(team=acme).values_list("name", flat=True)) == [
        "acme-shop"
    ]


def test_subscriptions_page_lists_the_current_teams_only(acme, acme_app, globex_app, alice):
    mine = SubscriptionFactory(application=acme_app)
    theirs = SubscriptionFactory(application=globex_app)
    client = browser(alice)
    switch(client, acme)

    page = client.get("/subscriptions/").content.decode()

    assert f"/subscriptions/{mine.pk}/revoke/" in page
    assert f"/subscriptions/{theirs.pk}/revoke/" not in page
    assert client.post(f"/subscriptions/{theirs.pk}/revoke/").status_code == 404


def test_a_removed_members_session_loses_the_team_at_its_next_request(acme, acme_app, alice, dan):
    client = browser(dan)
    switch(client, acme)
    assert "acme-shop" in client.get("/apps/").content.decode()

    owner = browser(alice)
    switch(owner, acme)
    assert owner.post(f"/teams/members/{dan.pk}/remove/").status_code == 302

    page = client.get("/apps/").content.decode()
    assert "acme-shop" not in page and "Applications of dan" in page
    assert client.post(f"/apps/{acme_app.pk}/delete/").status_code == 404


def test_an_invitation_from_the_portal_is_emailed_and_accepted_once(
    acme, alice, django_capture_on_commit_callbacks
):
    inviter = browser(alice)
    switch(inviter, acme)
    with django_capture_on_commit_callbacks(execute=True):
        sent = inviter.post("/teams/invite/", {"email": "carol@example.com", "role": "viewer"})
    assert sent.status_code == 302
    link = re.search(r"http://\S+/teams/join/\S+/", mail.outbox[0].body)[0]
    path = link.split("testserver", 1)[1]

    carol = browser(UserFactory(username="carol"))
    shown = carol.get(path, HTTP_ACCEPT="text/html")
    joined = carol.post(path, HTTP_ACCEPT="text/html")
    again = carol.post(path, HTTP_ACCEPT="text/html")

    assert "join <strong>acme</strong> as <strong>viewer</strong>" in shown.content.decode()
    assert (
        joined.status_code == 200 and "You joined <strong>acme</strong>" in joined.content.decode()
    )
    assert again.status_code == 404 and "was used already or has expired" in again.content.decode()
    assert "acme" in carol.get("/apps/").content.decode()
    assert Membership.objects.get(team=acme, user__username="carol").role == "viewer"


def test_the_join_link_asks_a_stranger_to_sign_in_first(acme, alice):
    assert Client().get("/teams/join/pct_x/")["Location"].startswith("/accounts/login/?next=")


def test_the_last_owner_is_told_they_cannot_leave(acme, alice):
    client = browser(alice)
    switch(client, acme)

    response = client.post(f"/teams/members/{alice.pk}/remove/", follow=True)

    assert "last owner" in response.content.decode()
    assert Membership.objects.filter(team=acme, user=alice).exists()


def test_a_team_created_in_the_portal_is_shown_at_once(alice):
    client = browser(alice)

    response = client.post("/teams/", {"name": "payments"}, follow=True)

    assert "Team payments" in response.content.decode()
    assert Membership.objects.get(team__name="payments").role == "owner"
