"""Migration 0016 gives every existing rollup a latency histogram that keeps its figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apis.models import UsageRollup
from apis.usage.histogram import bucket, percentile
from tests.factories import ApiFactory, ApplicationFactory
from tests.usage.conftest import NOON, schema_at
from tests.usage.test_rollup import needs_postgres

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True)]

BEFORE = [("apis", "0015_spend_alerts")]


@pytest.fixture
def before_histograms():
    """The database at the schema before the histograms; forward to the latest afterwards."""
    with schema_at(BEFORE) as apps:
        yield apps


def test_rollups_get_histograms_from_their_events_or_their_percentiles(before_histograms):
    api, application = ApiFactory(slug="weather"), ApplicationFactory()
    apps = before_histograms
    Event, Rollup = apps.get_model("apis", "UsageEvent"), apps.get_model("apis", "UsageRollup")
    ids = {"api_id": api.pk, "application_id": application.pk}
    for n, ms in enumerate([10, 20, 300]):  # the noon hour's events, all still stored
        Event.objects.create(source_id=f"e{n}", at=NOON, status=200, latency_ms=ms,
                             rolled_up=True, **ids)  # fmt: skip
    Rollup.objects.create(granularity="hour", period_start=NOON, requests=3, p50_ms=20,
                          p95_ms=300, **ids)  # fmt: skip
    pruned = NOON - timedelta(days=40)  # its events are gone: only the percentiles are left
    Rollup.objects.create(granularity="day", period_start=pruned, requests=9, p50_ms=40,
                          p95_ms=200, **ids)  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    from_events = UsageRollup.objects.get(granularity="hour")
    assert from_events.latency_histogram == {"10": 1, "20": 1, str(bucket(300)): 1}
    from_percentiles = UsageRollup.objects.get(period_start=pruned).latency_histogram
    assert sum(from_percentiles.values()) == 9
    assert percentile(from_percentiles, 50) == 40
    assert percentile(from_percentiles, 95) == bucket(200)
