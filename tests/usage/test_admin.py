"""The usage admin: staff can read events and rollups but not change them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from apis.usage.services import usage_events_store, usage_rollup
from tests.factories import StaffFactory
from tests.usage.conftest import record

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["usageevent", "usagerollup"])
def test_staff_reads_usage_in_admin_but_cannot_add_it(client, staff, api, alice_app, model):
    usage_events_store(entries=[("1-0", record(api, alice_app))])
    usage_rollup()
    client.force_login(staff)
    listing = client.get(f"/admin/usage/{model}/")
    assert listing.status_code == 200
    assert b"alice-app" in listing.content
    assert client.get(f"/admin/usage/{model}/add/").status_code == 403


def test_the_months_spend_per_deployment_holds_through_a_second_rollup(
    client, staff, api, alice_app, bob_app
):
    now = timezone.now()
    usage_events_store(
        entries=[
            ("1-0", record(api, alice_app, at=now, model="east", cost=Decimal("0.5"))),
            ("1-1", record(api, bob_app, at=now, model="east", cost=Decimal("0.25"))),
        ]
    )
    usage_rollup()
    # A late event of the same day: its day is recomputed, nothing is counted twice.
    usage_events_store(entries=[("1-2", record(api, alice_app, at=now, model="west"))])
    usage_rollup()
    client.force_login(staff)

    page = client.get("/admin/usage/spendrollup/")

    deployments = page.context["spend"]["deployments"]
    assert [(row["model"], row["calls_made"], row["spent"]) for row in deployments] == [
        ("east", 2, Decimal("0.75")),
        ("west", 1, Decimal("0")),
    ]
    assert client.get("/admin/usage/spendrollup/add/").status_code == 403


def test_staff_without_the_right_to_view_spend_are_refused_it(client, api):
    clerk = StaffFactory(username="clerk", is_superuser=False)

    client.force_login(clerk)

    assert client.get("/admin/usage/spendrollup/").status_code == 403
