"""Raw usage events are kept for the retention and pruned in bounded batches; rollups stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from apis.usage.models import UsageEvent, UsageRollup
from apis.usage.services import retention_cutoff, usage_events_store, usage_rollup
from apis.usage.tasks import usage_prune
from tests.usage.conftest import record

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC)


def store_at(api, application, *days_ago: int, prefix: str = "e") -> None:
    entries = [
        (f"{prefix}{n}-0", record(api, application, at=NOW - timedelta(days=days)))
        for n, days in enumerate(days_ago)
    ]
    usage_events_store(entries=entries)


def stored_days_ago() -> list[int]:
    return sorted((NOW - at).days for at in UsageEvent.objects.values_list("at", flat=True))


@override_settings(PORTCULLIS={"USAGE": {"RETENTION_DAYS": 50}})
def test_events_past_the_retention_are_pruned_and_rollups_stay(api, alice_app):
    store_at(api, alice_app, 1, 10, 39, 41, 45)
    usage_rollup()
    days_before = UsageRollup.objects.filter(granularity="day").count()

    with override_settings(PORTCULLIS={"USAGE": {"RETENTION_DAYS": 30}}):
        pruned = usage_prune()

    assert pruned == 3
    assert stored_days_ago() == [1, 10]
    assert UsageRollup.objects.filter(granularity="day").count() == days_before == 5


@override_settings(PORTCULLIS={"USAGE": {"RETENTION_DAYS": 50}})
def test_events_not_yet_rolled_up_are_kept_until_they_are(api, alice_app):
    store_at(api, alice_app, 35)

    with override_settings(PORTCULLIS={"USAGE": {"RETENTION_DAYS": 30}}):
        kept = usage_prune()
        usage_rollup()
        pruned = usage_prune()

    assert (kept, pruned) == (0, 1)
    assert UsageRollup.objects.get(granularity="day").requests == 1


@override_settings(PORTCULLIS={"USAGE": {"RETENTION_DAYS": 50}})
def test_one_run_deletes_at_most_its_batches_oldest_first(api, alice_app):
    store_at(api, alice_app, *range(31, 39))
    usage_rollup()
    bounded = {"RETENTION_DAYS": 30, "PRUNE_BATCH_SIZE": 3, "PRUNE_MAX_BATCHES": 2}

    with override_settings(PORTCULLIS={"USAGE": bounded}):
        first = usage_prune()
        left = stored_days_ago()
        second = usage_prune()

    assert first == 6
    assert left == [31, 32]
    assert second == 2


def test_a_late_event_older_than_the_retention_is_not_stored(api, alice_app):
    stored = usage_events_store(
        entries=[("late-0", record(api, alice_app, at=retention_cutoff() - timedelta(seconds=1)))]
    )

    assert stored == 0
    assert not UsageEvent.objects.exists()


def test_the_cutoff_is_the_start_of_a_utc_day(settings):
    noon = datetime(2026, 12, 2, 12, 30, tzinfo=UTC)

    assert retention_cutoff(noon) == datetime(2026, 11, 2, tzinfo=UTC)
