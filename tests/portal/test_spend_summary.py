"""The portal's spend this month: per subscription and per application, with the days left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from apis.gateway.alerts import spend_alert_raise
from apis.usage.selectors import month_start
from apis.usage.services import usage_events_store, usage_rollup
from portal.spend_summary import month_spend
from teams.services import personal_team_ensure
from tests.factories import ApiFactory, ApplicationFactory, PlanFactory, SubscriptionFactory
from tests.usage.conftest import record

pytestmark = pytest.mark.django_db

FEBRUARY_20 = datetime(2026, 2, 20, 12, tzinfo=UTC)
NOW = datetime.now(UTC)


@pytest.fixture
def spending(alice, bob):
    """alice's `shop` spent $0.60 of its plan's $1 on chat and $0.90 of its own $2 over every
    API; bob's application spent too, on a plan without a budget."""
    chat = ApiFactory(slug="chat", name="Chat", published=True)
    search = ApiFactory(slug="search", name="Search", published=True)
    shop = ApplicationFactory(owner=alice, name="shop", monthly_budget=Decimal("2"))
    SubscriptionFactory(application=shop, api=chat, plan=PlanFactory(api=chat, monthly_budget=1))
    SubscriptionFactory(application=shop, api=search, plan=search.plans.first())
    other = ApplicationFactory(owner=bob, name="other")
    SubscriptionFactory(application=other, api=chat, plan=chat.plans.first())
    usage_events_store(
        entries=[
            ("s-1", record(chat, shop, at=NOW, cost=Decimal("0.6"))),
            ("s-2", record(search, shop, at=NOW, cost=Decimal("0.3"))),
            ("s-3", record(chat, other, at=NOW, cost=Decimal("5"))),
            # Last month's spend counts no more.
            ("s-4", record(chat, shop, at=month_start(NOW) - timedelta(hours=1), cost=Decimal(9))),
        ]
    )
    usage_rollup()
    return shop


def application_alert(application, threshold: int, month: str):
    """The alert at `threshold`% of the application's own budget, raised as the gateway does."""
    return spend_alert_raise(
        application_id=application.pk,
        api_id=None,
        policy="budget",
        threshold=threshold,
        month=month,
        detail=f"{threshold}% of the application's monthly budget reached.",
    )


def test_each_budget_stands_against_its_spend(spending):
    summary = month_spend(team=spending.team, now=NOW)

    rows = [(r.application, r.api, r.spent, r.budget, r.percent) for r in summary["rows"]]
    assert rows == [
        ("shop", "Chat", Decimal("0.6"), Decimal("1"), 60),
        ("shop", "", Decimal("0.9"), Decimal("2"), 45),
    ]


def test_the_days_left_count_today(alice):
    # February 2026 has 28 days: the 20th to the 28th.
    assert month_spend(team=personal_team_ensure(alice), now=FEBRUARY_20)["days_left"] == 9


def test_the_usage_page_shows_the_owners_budgets_and_notices_only(spending, client, alice, bob):
    application_alert(spending, 80, NOW.strftime("%Y-%m"))
    client.force_login(alice)

    page = client.get(reverse("portal:usage")).content.decode()

    assert "Spend this month" in page and "every API" in page
    days_left = month_spend(team=spending.team)["days_left"]
    assert f"{days_left} day{'s' if days_left > 1 else ''} left in the month" in page
    assert "80% of the application&#x27;s monthly budget reached." in page
    client.force_login(bob)
    assert "80% of the application" not in client.get(reverse("portal:usage")).content.decode()


def test_staff_see_the_alerts_in_admin(spending, admin_client):
    application_alert(spending, 100, "2026-02")

    listing = admin_client.get("/admin/usage/spendalert/")

    assert listing.status_code == 200
    assert "100% of the application" in listing.content.decode()


def test_an_alert_raised_twice_is_one_notice_and_one_mail(spending):
    raised = [application_alert(spending, 80, "2026-02") for _ in range(2)]

    assert raised[0] is not None and raised[1] is None
    assert len(mail.outbox) == 1
