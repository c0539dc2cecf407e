"""Teams in a real browser: an owner invites by e-mail, the invitee accepts, switches between
teams and creates an application that the whole team then sees."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from keys.models import Application
from teams.models import Team
from tests.e2e.test_journey import create_application, sign_up
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()


def switch_to(page, label: str) -> None:
    page.get_by_label("Team", exact=True).select_option(label=label)
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_role("status")).to_contain_text("Now showing team")


def tab(browser, live_server):
    """A browser tab of its own (its own cookies: one person each), allowed the clipboard."""
    permissions = ["clipboard-read", "clipboard-write"]
    return browser.new_context(base_url=live_server.url, permissions=permissions).new_page()


def test_invite_accept_switch_team_and_create_an_application(browser, live_server, screenshot):
    UserFactory(username="olive")
    owner = tab(browser, live_server)
    log_in(owner, "olive")
    owner.goto("/teams/")
    owner.get_by_label("New team name").fill("acme")
    owner.get_by_role("button", name="Create team").click()
    expect(owner.get_by_role("heading", name="Team acme")).to_be_visible()
    owner.get_by_label("E-mail address").fill("carol@example.com")
    owner.get_by_label("Role").select_option("developer")
    owner.get_by_role("button", name="Send invitation").click()
    expect(owner.get_by_role("status")).to_contain_text("Invitation sent to carol@example.com")
    screenshot(owner, "teams")

    link = re.search(r"http://\S+/teams/join/\S+/", mail.outbox[-1].body)[0]
    invitee = tab(browser, live_server)
    sign_up(invitee, "carol")
    invitee.goto(link)
    invitee.get_by_role("button", name="Accept and join acme").click()
    expect(invitee.get_by_text("You joined acme as developer")).to_be_visible()
    expect(invitee.get_by_label("Team", exact=True)).to_have_value(
        str(Team.objects.get(name="acme").pk)
    )

    invitee.goto("/apps/")
    expect(invitee.get_by_role("heading", name="Applications of acme")).to_be_visible()
    create_application(invitee, "carol-shop")
    switch_to(invitee, "carol (owner)")
    expect(invitee.get_by_role("heading", name="Applications of carol")).to_be_visible()
    expect(invitee.get_by_text("carol-shop")).to_have_count(0)
    switch_to(invitee, "acme (developer)")
    expect(invitee.get_by_role("row", name="carol-shop")).to_be_visible()

    owner.goto("/apps/")
    expect(owner.get_by_role("row", name="carol-shop")).to_be_visible()
    invitee.goto(link)
    expect(invitee.get_by_text("was used already or has expired")).to_be_visible()
    assert Application.objects.get(name="carol-shop").team.name == "acme"
