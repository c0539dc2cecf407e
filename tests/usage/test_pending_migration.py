"""Usage migration 0002 queues the events not rolled up and gives the newest rollups a last call."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apis.usage.models import UsageEventPending, UsageRollup
from apis.usage.services import usage_rollup
from tests.factories import ApiFactory, ApplicationFactory
from tests.migrations import migrate_forward, migrated_back
from tests.usage.conftest import NOON

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("usage", "0001_initial")]


@pytest.fixture
def before_queue():
    """The database at the schema before the queue; forward to the latest afterwards."""
    with migrated_back(BEFORE) as apps:
        yield apps


def test_unrolled_events_are_queued_once_and_last_calls_are_backfilled(before_queue):
    api, caller, gone = ApiFactory(slug="weather"), ApplicationFactory(), ApplicationFactory()
    apps = before_queue
    Event, Rollup = apps.get_model("usage", "UsageEvent"), apps.get_model("usage", "UsageRollup")
    day = NOON.replace(hour=0)
    calling = {"api_id": api.pk, "application_id": caller.pk}
    Event.objects.create(source_id="e0", at=NOON, status=200, rolled_up=True, **calling)
    late = Event.objects.create(source_id="e1", at=NOON + timedelta(hours=1), status=200,
                                rolled_up=False, **calling)  # fmt: skip
    Rollup.objects.create(granularity="hour", period_start=NOON, requests=1, **calling)
    Rollup.objects.create(granularity="day", period_start=day, requests=1, **calling)
    # An application whose events are all pruned: its newest day has two hours of calls.
    silent = {"api_id": api.pk, "application_id": gone.pk}
    old_day = day - timedelta(days=40)
    for hours in (3, 7):
        Rollup.objects.create(granularity="hour", period_start=old_day + timedelta(hours=hours),
                              requests=1, **silent)  # fmt: skip
    Rollup.objects.create(granularity="day", period_start=old_day - timedelta(days=1), **silent)
    Rollup.objects.create(granularity="day", period_start=old_day, requests=2, **silent)

    migrate_forward()

    assert list(UsageEventPending.objects.values_list("event_id", flat=True)) == [late.pk]
    days = UsageRollup.objects.filter(granularity="day")
    assert days.get(application=caller).last_call_at == NOON + timedelta(hours=1)
    assert days.get(application=gone, period_start=old_day).last_call_at == old_day + timedelta(
        hours=7
    )
    assert usage_rollup() == 1
    assert days.get(application=caller).requests == 2
