"""The developer's whole journey in a real browser, from signing up to seeing a call in usage."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import httpx
import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from apis.services import api_set_tags, api_transition, plan_create
from apis.usage.models import UsageRollup
from tests.factories import ApiFactory
from tests.servers import Upstream

pytestmark = pytest.mark.django_db(transaction=True)

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Echo", "version": "2"},
    "paths": {
        "/hello": {"get": {"summary": "Say hello", "responses": {"200": {"description": "OK"}}}},
        "/items": {"post": {"summary": "Add an item", "responses": {"201": {"description": "OK"}}}},
    },
}


@pytest.fixture
def upstream():
    with Upstream() as server:
        yield server


@pytest.fixture
def catalog(upstream):
    """A published API with two plans and an OpenAPI document, an older deprecated version."""
    echo = ApiFactory(
        slug="echo-v2",
        name="Echo",
        version="v2",
        upstream_url=f"{upstream.url}/",
        description="Answers with what it was sent: method, path and headers.",
        openapi=OPENAPI,
    )
    plan_create(api=echo, name="Free", rate_limit="60/m", monthly_quota=10000)
    plan_create(api=echo, name="Business", rate_limit="600/m", requires_approval=True)
    api_transition(api=echo, to="published", actor=None)
    api_set_tags(api=echo, tags=["demo", "tools"])
    old = ApiFactory(
        slug="echo-v1", name="Echo", version="v1", upstream_url=f"{upstream.url}/", published=True
    )
    api_transition(api=old, to="deprecated", actor=None, sunset=timezone.now() + timedelta(days=60))
    weather = ApiFactory(
        slug="weather", name="Weather", description="Forecasts by city.", published=True
    )
    api_set_tags(api=weather, tags=["climate"])
    plan_create(api=weather, name="Partner", rate_limit="1000/m", requires_approval=True)
    return echo


def sign_up(page, username: str) -> None:
    page.goto("/")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Password", exact=True).fill("a-long-unusual-passphrase")
    page.get_by_label("Password confirmation").fill("a-long-unusual-passphrase")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Applications")).to_be_visible()


def create_application(page, name: str) -> tuple[str, str]:
    """Create an application; returns its client id and the secret copied with the copy button."""
    page.get_by_label("New application name").fill(name)
    page.get_by_role("button", name="Create application").click()
    secret_shown = page.get_by_test_id("client-secret").inner_text()
    client_id = page.get_by_test_id("client-id").inner_text()
    page.get_by_role("button", name="Copy").nth(1).click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == secret_shown and copied.startswith("pcs_")
    return client_id, copied


def subscribe(page, application: str, plan: str) -> None:
    page.goto("/apis/echo-v2/")
    page.get_by_label("Application", exact=True).select_option(label=application)
    page.get_by_label("Plan", exact=True).select_option(label=plan)
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_text("active, you can call it now")).to_be_visible()


def call_gateway(base_url: str, client_id: str, secret: str) -> httpx.Response:
    token = httpx.post(
        f"{base_url}/oauth/token",
        auth=(client_id, secret),
        data={"grant_type": "client_credentials", "scope": "echo-v2"},
    )
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return httpx.get(f"{base_url}/gw/echo-v2/hello", headers=bearer, timeout=30)


def roll_up_until_counted(requests: int) -> None:
    """Run the rollup (what beat does each minute) until the call is counted."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        call_command("rollup_usage", stdout=open("/dev/null", "w"))  # noqa: SIM115
        rows = UsageRollup.objects.filter(granularity="hour", api__slug="echo-v2")
        if sum(row.requests for row in rows) >= requests:
            return
        time.sleep(0.2)
    raise AssertionError("the gateway call never reached the usage rollups")


def test_developer_signs_up_subscribes_calls_the_gateway_and_sees_the_call(
    page, live_server, catalog, screenshot
):
    page.goto("/")
    expect(page.get_by_text("sunset")).to_be_visible()
    screenshot(page, "catalog")

    sign_up(page, "dana")
    client_id, secret = create_application(page, "dana-shop")
    screenshot(page, "applications")

    subscribe(page, "dana-shop", "Echo v2 — Free (60/m)")
    page.get_by_text("Interactive documentation").click()
    expect(page.locator("#swagger-ui").get_by_text("Say hello")).to_be_visible()
    screenshot(page, "api")

    answer = call_gateway(live_server.url, client_id, secret)
    assert answer.status_code == 200, answer.text
    assert answer.json()["path"] == "/hello"

    page.goto("/subscriptions/")
    page.get_by_label("Application", exact=True).select_option(label="dana-shop")
    page.get_by_label("Plan", exact=True).select_option(
        label="Weather v1 — Partner (1000/m, needs approval)"
    )
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("status")).to_contain_text("pending until its providers approve")
    rows = page.get_by_role("row", name="dana-shop")
    expect(rows.filter(has_text="Echo v2")).to_contain_text("Active")
    expect(rows.filter(has_text="Weather v1")).to_contain_text("Pending approval")
    screenshot(page, "subscriptions")

    roll_up_until_counted(1)
    page.goto("/usage/")
    row = page.get_by_role("row", name="dana-shop").first
    expect(row).to_contain_text("echo-v2")
    expect(row.locator("td").nth(1)).to_have_text("1")
    page.wait_for_function("document.querySelector('canvas[data-window]').width > 0")
    screenshot(page, "usage")
    assert page.console_errors == []


def test_catalog_filters_and_reads_well_on_a_phone(page, catalog, screenshot):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    page.get_by_label("Tag").select_option("climate")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("heading", name="Weather")).to_be_visible()
    expect(page.get_by_role("heading", name="Echo v2")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "catalog-phone")
    assert page.console_errors == []


def test_rotating_a_secret_swaps_in_the_new_one_without_a_page_load(page, catalog):
    sign_up(page, "erin")
    _, first = create_application(page, "erin-app")
    page.goto("/apps/")
    page.get_by_role("button", name="Rotate the secret of erin-app").click()
    expect(page.get_by_text("The previous secret no longer works")).to_be_visible()
    rotated = page.get_by_test_id("client-secret").inner_text()
    assert rotated.startswith("pcs_") and rotated != first
    assert page.console_errors == []


def csp_violations(tab) -> list[str]:
    return [error for error in tab.console_errors if "Content Security Policy" in error]


def test_admin_works_under_the_content_security_policy(page, staff, catalog):
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.goto("/admin/apis/api/")
    expect(page.get_by_text("echo-v2").first).to_be_visible()
    page.goto(f"/admin/apis/api/{catalog.pk}/change/")
    expect(page.get_by_label("Slug")).to_have_value("echo-v2")
    assert csp_violations(page) == []


def test_management_api_docs_work_under_the_content_security_policy(page):
    page.goto("/api/v1/docs/")
    expect(page.get_by_text("Portcullis management API").first).to_be_visible()
    assert csp_violations(page) == []


def test_keyboard_users_can_skip_to_the_content_and_see_focus(page, catalog):
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    outline = skip.evaluate("element => getComputedStyle(element).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    # Following the link is a navigation of its own: the URL changes once the browser has done it.
    expect(page).to_have_url(re.compile(r"#main$"))
