"""The usage admin: staff can read events and rollups but not change them."""

from __future__ import annotations

import pytest

from apis.usage.services import usage_events_store, usage_rollup
from tests.usage.conftest import record

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["usageevent", "usagerollup"])
def test_staff_reads_usage_in_admin_but_cannot_add_it(client, staff, api, alice_app, model):
    usage_events_store(entries=[("1-0", record(api, alice_app))])
    usage_rollup()
    client.force_login(staff)
    listing = client.get(f"/admin/apis/{model}/")
    assert listing.status_code == 200
    assert b"alice-app" in listing.content
    assert client.get(f"/admin/apis/{model}/add/").status_code == 403
