"""The operator's console in a real browser: dashboard, approvals, transitions, OpenAPI upload."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apis.models import Api, Subscription
from apis.services import api_transition
from apis.usage.services import usage_events_store, usage_rollup
from tests.factories import ApiFactory, ApplicationFactory, PlanFactory, SubscriptionFactory
from tests.usage.conftest import record

pytestmark = pytest.mark.django_db(transaction=True)

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "Weather", "version": "2"},
    "paths": {
        "/forecast": {
            "get": {"summary": "Forecast by city", "responses": {"200": {"description": "OK"}}}
        }
    },
}


@pytest.fixture
def traffic(staff):
    """Published APIs with subscribers, a day of calls in the rollups, one approval waiting."""
    weather = ApiFactory(slug="weather-v2", name="Weather", version="v2", published=True)
    chat = ApiFactory(slug="chat", name="Chat", published=True)
    old = ApiFactory(slug="weather-v1", name="Weather", version="v1", published=True)
    mobile, batch, kiosk = (ApplicationFactory(name=n) for n in ("mobile", "batch", "kiosk"))
    for api, application in ((weather, mobile), (chat, batch), (old, kiosk)):
        SubscriptionFactory(api=api, plan=api.plans.first(), application=application)
    partner = PlanFactory(api=weather, name="partner", requires_approval=True)
    SubscriptionFactory(api=weather, plan=partner, application=batch, status="pending")
    api_transition(
        api=old, to="deprecated", actor=staff, sunset=timezone.now() + timedelta(days=45)
    )
    now = timezone.now()
    entries = []
    for hour in range(24):
        for n in range(hour % 7 + 2):
            at = now - timedelta(hours=hour, minutes=1)
            entries.append(
                (
                    f"w-{hour}-{n}",
                    record(
                        weather, mobile, at=at, latency_ms=20 + n * 9, status=500 if n == 5 else 200
                    ),
                )
            )
            entries.append(
                (
                    f"c-{hour}-{n}",
                    record(chat, batch, at=at, cost=Decimal("0.0021"), prompt_tokens=120),
                )
            )
        entries.append((f"o-{hour}", record(old, kiosk, at=now - timedelta(hours=hour))))
    usage_events_store(entries=entries)
    usage_rollup()
    return weather


def log_in(page) -> None:
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()


def csp_violations(tab) -> list[str]:
    return [error for error in tab.console_errors if "Content Security Policy" in error]


def script_errors(tab) -> list[str]:
    """Errors of the page's scripts; a missing favicon (the admin has none) is not one."""
    return [error for error in tab.console_errors if "Failed to load resource" not in error]


def test_dashboard_shows_the_traffic_and_approves_a_subscription(page, traffic, screenshot):
    log_in(page)

    expect(page.get_by_role("heading", name="Traffic, last 24 hours")).to_be_visible()
    calls = sum(hour % 7 + 2 for hour in range(24)) * 2 + 24
    expect(page.get_by_test_id("calls")).to_have_text(str(calls))
    page.wait_for_function("document.querySelector('canvas[data-chart]').dataset.drawn === 'true'")
    expect(page.get_by_role("row", name="weather-v1")).to_contain_text("1")
    expect(page.get_by_test_id("health-database")).to_contain_text("ok")
    screenshot(page, "admin-dashboard")

    page.get_by_role("button", name="Approve batch for weather-v2").click()

    expect(page.get_by_text("1 subscription(s) approved.")).to_be_visible()
    expect(page.get_by_text("Nothing waits for a decision.")).to_be_visible()
    assert Subscription.objects.get(plan__name="partner").status == "active"
    assert csp_violations(page) == [] and script_errors(page) == []


def test_dashboard_reads_on_a_phone(page, traffic, screenshot):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page)

    expect(page.get_by_role("heading", name="Waiting for approval (1)")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "admin-dashboard-phone")


def test_deprecating_from_the_change_page_asks_for_note_and_sunset(page, traffic, screenshot):
    log_in(page)
    page.goto(f"/admin/apis/api/{traffic.pk}/change/")
    expect(page.get_by_role("heading", name="Subscribers (2)")).to_be_visible()
    page.wait_for_function("document.querySelector('canvas[data-chart]').dataset.drawn === 'true'")
    expect(page.get_by_role("link", name="Retire…")).to_have_count(0)
    screenshot(page, "admin-api")

    page.get_by_role("link", name="Deprecate…").click()
    page.get_by_label("Note").fill("Weather v3 answers in metric and imperial.")
    page.get_by_label("Sunset").fill(
        (timezone.now() + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M")
    )
    page.get_by_role("button", name="Yes, move to deprecated").click()

    expect(page.get_by_text("Now deprecated: weather-v2.")).to_be_visible()
    expect(page.get_by_test_id("api-state")).to_have_text("deprecated")
    expect(page.get_by_role("link", name="Publish…")).to_be_visible()
    assert Api.objects.get(pk=traffic.pk).state == "deprecated"
    assert csp_violations(page) == [] and script_errors(page) == []


def test_uploading_an_openapi_document_previews_it(page, traffic, tmp_path):
    document = tmp_path / "weather.json"
    document.write_text(json.dumps(DOCUMENT))
    log_in(page)
    page.goto(f"/admin/apis/api/{traffic.pk}/change/")

    page.get_by_label("Upload a document").set_input_files(str(document))
    page.get_by_role("button", name="Save and continue editing").click()

    expect(page.get_by_text("was changed successfully")).to_be_visible()
    expect(page.get_by_text("/gw/weather-v2/forecast")).to_be_visible()
    expect(page.get_by_text("Forecast by city")).to_be_visible()
    assert Api.objects.get(pk=traffic.pk).openapi == DOCUMENT
    assert csp_violations(page) == []


def test_add_page_shows_only_the_chosen_kinds_fields(page, staff):
    log_in(page)
    page.goto("/admin/apis/api/add/")

    expect(page.locator("#id_upstream_url")).to_be_visible()
    expect(page.locator("#id_model")).to_be_hidden()
    page.get_by_label("Kind").select_option("ai")

    expect(page.locator("#id_model")).to_be_visible()
    expect(page.locator("#id_upstream_url")).to_be_hidden()
    assert csp_violations(page) == []
