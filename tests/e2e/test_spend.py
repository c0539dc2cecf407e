"""Where the money goes, in a real browser: the dashboard's budgets and the month's spend."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apis.models import Api
from apis.usage.selectors import month_start
from apis.usage.services import usage_events_store, usage_rollup
from tests.e2e.test_console import csp_violations, log_in, script_errors
from tests.factories import ApiFactory, ApplicationFactory, PlanFactory, SubscriptionFactory
from tests.usage.conftest import record

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def month_of_spend(staff):
    """An AI API over two deployments; `shop` has spent 85% of its plan's $1, `kiosk` 20% of
    its own $10; one of shop's calls was estimated, one of kiosk's cached."""
    chat = ApiFactory(slug="chat", name="Chat", kind=Api.Kind.AI, published=True)
    shop = ApplicationFactory(name="shop")
    kiosk = ApplicationFactory(name="kiosk", monthly_budget=Decimal("10"))
    team = PlanFactory(api=chat, name="team", monthly_budget=Decimal("1"))
    SubscriptionFactory(api=chat, plan=team, application=shop)
    SubscriptionFactory(api=chat, plan=PlanFactory(api=chat, name="partner"), application=kiosk)
    at = max(month_start() + timedelta(minutes=5), timezone.now() - timedelta(minutes=5))
    calls = [
        (shop, "east", "0.25", False, False),
        (shop, "east", "0.25", True, False),
        (shop, "west", "0.35", False, False),
        (kiosk, "east", "2", False, False),
        (kiosk, "east", "0", False, True),
    ]
    usage_events_store(
        entries=[
            (
                f"e-{n}",
                record(
                    chat,
                    application,
                    at=at,
                    model=model,
                    cost=Decimal(cost),
                    estimated=estimated,
                    cached=cached,
                ),
            )
            for n, (application, model, cost, estimated, cached) in enumerate(calls)
        ]
    )
    usage_rollup()


def test_the_dashboard_lists_budgets_near_their_end_and_leads_to_the_months_spend(
    page, month_of_spend, screenshot
):
    log_in(page)

    budgets = page.get_by_test_id("budgets")
    expect(budgets.get_by_role("row", name="shop")).to_contain_text("85")
    expect(budgets.get_by_role("row", name="kiosk")).to_have_count(0)

    page.locator("#console").get_by_role("link", name="Spend this month").click()

    expect(page.get_by_role("heading", name="Per deployment")).to_be_visible()
    east = page.get_by_test_id("per-deployment").get_by_role("row", name="east")
    # 4 calls, $2.50, of which 1 estimated ($0.25) and 1 cached.
    expect(east.get_by_role("cell")).to_have_text(["chat", "4", "2.500000", "1", "0.250000", "1"])
    shop = page.get_by_test_id("per-application").get_by_role("row", name="shop")
    expect(shop.get_by_role("cell")).to_have_text(["3", "0.850000", "1", "0.250000", "0"])
    api = page.get_by_test_id("per-api").get_by_role("row", name="chat")
    expect(api.get_by_role("cell")).to_have_text(["5", "2.850000", "1", "0.250000", "1"])
    screenshot(page, "admin-spend")
    assert csp_violations(page) == [] and script_errors(page) == []
