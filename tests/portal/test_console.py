"""The dashboard at /admin/: traffic from the rollups, approvals, deprecations, health."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from apis.gateway import circuits
from apis.models import Api, Subscription
from apis.services import api_transition
from apis.usage.histogram import ERROR_BOUND
from apis.usage.services import usage_events_store, usage_rollup
from tests.factories import (
    ApiFactory,
    ApplicationFactory,
    PlanFactory,
    StaffFactory,
    SubscriptionFactory,
)
from tests.gateway.balancing import balance
from tests.usage.conftest import record

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/"


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def calls(
    api, application, *, count: int, errors: int = 0, cost: str = "0", ago=timedelta(hours=1)
):
    """`count` calls an hour ago, the first `errors` of them failed, through store and rollup."""
    at = timezone.now() - ago
    usage_events_store(
        entries=[
            (
                f"{api.pk}-{application.pk}-{ago.total_seconds():.0f}-{n}",
                record(
                    api,
                    application,
                    at=at,
                    status=502 if n < errors else 200,
                    latency_ms=10 * (n + 1),
                    cost=Decimal(cost),
                ),
            )
            for n in range(count)
        ]
    )
    usage_rollup()


def test_dashboard_shows_calls_errors_p95_and_top_lists_of_the_last_day(admin_client):
    weather, chat = ApiFactory(slug="weather", published=True), ApiFactory(slug="chat")
    mobile, batch = ApplicationFactory(name="mobile"), ApplicationFactory(name="batch")
    calls(weather, mobile, count=20, errors=3)
    calls(chat, batch, count=5, cost="0.25")
    calls(weather, batch, count=7, ago=timedelta(days=3))  # outside the 24 hours

    page = admin_client.get(DASHBOARD)

    assert page.status_code == 200
    traffic = page.context["dashboard"]["traffic"]
    assert (traffic["requests"], traffic["errors"]) == (25, 3)
    # The 24th of the 25 latencies (the two APIs' hours added up), within the histograms' bound.
    assert abs(traffic["p95_ms"] - 190) <= ERROR_BOUND * 190
    assert [(r.name, r.value) for r in traffic["top_apis"]] == [("weather", 20), ("chat", 5)]
    assert [r.name for r in traffic["top_application_spend"]] == ["batch"]
    assert traffic["top_api_spend"][0].value == Decimal("1.25")
    assert sum(traffic["chart"]["requests"]) == 25 and len(traffic["chart"]["labels"]) == 24
    assert 'data-testid="calls">25<' in page.text
    assert 'id="traffic-data"' in page.text  # the chart's data block
    assert 'href="/admin/apis/api/"' in page.text  # the model list follows


def test_dashboard_lists_pending_subscriptions_with_buttons(admin_client):
    pending = SubscriptionFactory(status=Subscription.Status.PENDING)
    SubscriptionFactory()  # active: not waiting

    page = admin_client.get(DASHBOARD)

    assert page.context["dashboard"]["pending"] == [pending]
    assert f"/admin/apis/subscription/{pending.pk}/approve/" in page.text
    assert f"/admin/apis/subscription/{pending.pk}/reject/" in page.text


def test_approve_from_the_dashboard_goes_through_the_service(admin_client, staff):
    pending = SubscriptionFactory(status=Subscription.Status.PENDING)

    response = admin_client.post(f"/admin/apis/subscription/{pending.pk}/approve/")

    assert response.status_code == 302 and response["Location"] == DASHBOARD
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by) == ("active", staff)


def test_reject_from_the_dashboard_and_a_second_decision_is_refused(admin_client):
    pending = SubscriptionFactory(status=Subscription.Status.PENDING)

    admin_client.post(f"/admin/apis/subscription/{pending.pk}/reject/")
    again = admin_client.post(f"/admin/apis/subscription/{pending.pk}/approve/", follow=True)

    pending.refresh_from_db()
    assert pending.status == "rejected"
    assert "it cannot become active" in again.text


def test_decisions_need_post_and_a_known_verb(admin_client):
    pending = SubscriptionFactory(status=Subscription.Status.PENDING)

    assert admin_client.get(f"/admin/apis/subscription/{pending.pk}/approve/").status_code == 405
    assert admin_client.post(f"/admin/apis/subscription/{pending.pk}/delete-all/").status_code in (
        302,
        404,
    )
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_staff_without_subscription_rights_neither_see_nor_decide_approvals(db):
    viewer = StaffFactory(is_superuser=False)
    viewer.user_permissions.add(Permission.objects.get(codename="view_api"))
    pending = SubscriptionFactory(status=Subscription.Status.PENDING)
    client = login(viewer)

    page = client.get(DASHBOARD)
    decided = client.post(f"/admin/apis/subscription/{pending.pk}/approve/")

    assert "pending" not in page.context["dashboard"]
    assert "traffic" not in page.context["dashboard"]
    assert "deprecations" in page.context["dashboard"]
    assert decided.status_code == 403
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_developers_are_sent_to_the_admin_login(alice):
    page = login(alice).get(DASHBOARD)

    assert page.status_code == 302 and "/admin/login/" in page["Location"]


def test_deprecated_apis_show_sunset_subscribers_and_who_still_calls(admin_client):
    old = ApiFactory(slug="weather-v1", published=True)
    still, quiet = ApplicationFactory(name="still"), ApplicationFactory(name="quiet")
    for application in (still, quiet):
        SubscriptionFactory(api=old, plan=old.plans.first(), application=application)
    sunset = timezone.now() + timedelta(days=30)
    api_transition(api=old, to="deprecated", actor=None, sunset=sunset)
    calls(old, still, count=2)

    page = admin_client.get(DASHBOARD)

    [row] = page.context["dashboard"]["deprecations"]
    assert (row.api, row.live_subscriptions, row.still_calling) == (old, 2, 1)
    assert sunset.strftime("%Y-%m-%d") in page.text


def test_targets_whose_circuit_is_open_or_half_open_are_listed(admin_client):
    api = ApiFactory(slug="orders", published=True)
    down, trying, fine = balance(
        api, ("http://10.0.0.1", 1), ("http://10.0.0.2", 1), ("http://10.0.0.3", 1)
    )
    async_to_sync(circuits.probed)(down, api, ok=False, reason="health probe: answered 500")
    Api.objects.filter(pk=api.pk).update(circuit_cool_down=0)  # its cool-down over at once
    api.refresh_from_db()
    async_to_sync(circuits.probed)(trying, api, ok=False, reason="connect error")
    assert async_to_sync(circuits.choose)(api, [trying]).trial  # the one trial call is out

    page = admin_client.get(DASHBOARD)

    listed = [(row.target, row.circuit.state) for row in page.context["dashboard"]["tripped"]]
    assert listed == [(down, circuits.OPEN), (trying, circuits.HALF_OPEN)]
    assert "health probe: answered 500" in page.text and "half-open" in page.text
    assert f'data-testid="tripped-{fine.pk}"' not in page.text


def test_health_reports_each_dependency_and_the_usage_backlog(admin_client):
    PlanFactory()

    page = admin_client.get(DASHBOARD)

    health = page.context["dashboard"]["health"]
    assert health["checks"]["database"] == "ok" and health["checks"]["cache"] == "ok"
    assert set(health["backlog"]) == {"stream", "pending_rollup", "rejected"}
    assert 'data-testid="health-database"' in page.text
