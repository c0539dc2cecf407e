"""Usage migration 0003 fills each API's totals and hourly histograms from the rollups kept."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from apis.usage.histogram import bucket
from apis.usage.models import ApiLatencyHour, ApiUsageTotal
from apis.usage.services import usage_events_store, usage_rollup
from tests.factories import ApiFactory, ApplicationFactory
from tests.migrations import migrate_forward, migrated_back
from tests.usage.conftest import NOON, record

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = str(bucket(250))

BEFORE = [("usage", "0002_usage_pending_queue_and_last_call")]


@pytest.fixture
def before_totals():
    """The database at the schema before the per-API rollups; forward afterwards."""
    with migrated_back(BEFORE) as apps:
        yield apps


def test_totals_and_hourly_histograms_are_backfilled_and_then_added_to(before_totals):
    weather, maps = ApiFactory(slug="weather"), ApiFactory(slug="maps")
    ada, bo = ApplicationFactory(), ApplicationFactory()
    Rollup = before_totals.get_model("usage", "UsageRollup")
    day = NOON.replace(hour=0)
    for application, requests, histogram in ((ada, 3, {"10": 2, SLOW: 1}), (bo, 2, {"10": 2})):
        pair = {"api_id": weather.pk, "application_id": application.pk}
        for granularity, start in (("hour", NOON), ("day", day)):
            Rollup.objects.create(granularity=granularity, period_start=start, requests=requests,
                                  errors=1, cost=Decimal("0.25"), bytes_out=100,
                                  latency_histogram=histogram, **pair)  # fmt: skip
        # A day long past, whose hourly rows were all added into it.
        Rollup.objects.create(granularity="day", period_start=day - timedelta(days=90),
                              requests=10, **pair)  # fmt: skip
    Rollup.objects.create(granularity="day", period_start=day, requests=4,
                          api_id=maps.pk, application_id=ada.pk)  # fmt: skip

    migrate_forward()

    totals = {
        t.api.slug: (t.requests, t.errors, t.cost, t.bytes_out) for t in ApiUsageTotal.objects.all()
    }
    assert totals == {
        "weather": (25, 2, Decimal("0.5"), 200),
        "maps": (4, 0, Decimal(0), 0),
    }
    hour = ApiLatencyHour.objects.get()
    assert (hour.api, hour.period_start) == (weather, NOON)
    assert hour.latency_histogram == {"10": 4, SLOW: 1}

    usage_events_store(entries=[("late", record(weather, bo, at=NOON, latency_ms=250))])
    usage_rollup()
    hour.refresh_from_db()
    assert hour.latency_histogram == {"10": 4, SLOW: 2}
    assert ApiUsageTotal.objects.get(api=weather).requests == 26
