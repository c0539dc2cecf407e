"""Rolling up adds each batch of new events into the rollups: exactly once, whoever runs it.

Latency percentiles come from histograms that add up; they are within the documented bound
of the exact nearest-rank percentile of the events, however the events were batched.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, connections
from django.db.models import Sum
from django.test import override_settings

from apis.usage.histogram import ERROR_BOUND, bucket, merged, percentile
from apis.usage.models import UsageEventPending, UsageRollup
from apis.usage.services import usage_events_store, usage_rollup
from tests.servers import ROOT, database_url
from tests.usage.conftest import NOON, record

needs_postgres = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="needs PostgreSQL: its SQL functions, and processes sharing the tests' database",
)


def exact(latencies: list[int], rank: int) -> int:
    ordered = sorted(latencies)
    return ordered[max(0, math.ceil(rank * len(ordered) / 100) - 1)]


def within_bound(reported: int, true: int) -> bool:
    return abs(reported - true) <= ERROR_BOUND * true


def store(api, application, latencies: list[int], *, prefix: str = "e", **fields) -> None:
    usage_events_store(
        entries=[
            (f"{prefix}{n}", record(api, application, latency_ms=ms, **fields))
            for n, ms in enumerate(latencies)
        ]
    )


def requests(granularity: str) -> int:
    rows = UsageRollup.objects.filter(granularity=granularity)
    return rows.aggregate(total=Sum("requests"))["total"] or 0


@pytest.mark.django_db
def test_percentiles_of_batches_added_together_stay_within_the_bound(api, alice_app):
    rng = random.Random(16)
    latencies = [int(rng.lognormvariate(5, 1.2)) for _ in range(3000)]
    small = {"USAGE": {"ROLLUP_BATCH_SIZE": 70}}
    with override_settings(PORTCULLIS=small):
        for start in range(0, len(latencies), 500):  # rolled up as they arrive, 70 at a time
            store(api, alice_app, latencies[start : start + 500], prefix=f"b{start}-")
            usage_rollup()

    for granularity in ("hour", "day"):
        row = UsageRollup.objects.get(granularity=granularity)
        assert row.requests == len(latencies)
        assert within_bound(row.p50_ms, exact(latencies, 50)), (row.p50_ms, granularity)
        assert within_bound(row.p95_ms, exact(latencies, 95)), (row.p95_ms, granularity)
        assert within_bound(percentile(row.latency_histogram, 99), exact(latencies, 99))


@pytest.mark.django_db
def test_latencies_up_to_100_ms_are_exact(api, alice_app):
    store(api, alice_app, [3, 7, 7, 42, 99, 100])
    usage_rollup()
    histogram = UsageRollup.objects.get(granularity="hour").latency_histogram
    assert histogram == {"3": 1, "7": 2, "42": 1, "99": 1, "100": 1}


@pytest.mark.django_db
def test_a_late_batch_adds_into_the_hour_and_the_day_it_belongs_to(api, alice_app):
    store(api, alice_app, [10] * 4, status=502, cost=Decimal("0.25"))
    usage_rollup()
    store(api, alice_app, [30] * 2, prefix="late", prompt_tokens=5, estimated=True)
    store(api, alice_app, [50], prefix="next", at=NOON + timedelta(hours=1))
    usage_rollup()

    hour = UsageRollup.objects.get(granularity="hour", period_start=NOON)
    day = UsageRollup.objects.get(granularity="day")
    assert (hour.requests, hour.errors, hour.cost, hour.prompt_tokens) == (
        6,
        4,
        Decimal("1.00"),
        10,
    )
    assert (hour.estimated_tokens, hour.latency_histogram) == (10, {"10": 4, "30": 2})
    assert (day.requests, day.latency_histogram) == (7, {"10": 4, "30": 2, "50": 1})
    assert (hour.p50_ms, hour.p95_ms, day.p95_ms) == (10, 30, 50)


@pytest.mark.django_db
def test_histograms_of_several_rows_add_up_to_the_percentile_of_all_their_calls(
    api, alice_app, bob_app
):
    store(api, alice_app, list(range(1, 91)))
    store(api, bob_app, [1000] * 10, prefix="slow")
    usage_rollup()
    rows = UsageRollup.objects.filter(granularity="hour")
    assert [row.p95_ms for row in rows.order_by("application__name")] == [86, bucket(1000)]
    everything = merged(row.latency_histogram for row in rows)
    assert within_bound(percentile(everything, 95), 1000)
    assert percentile(everything, 50) == 50


@needs_postgres
@pytest.mark.django_db
def test_the_sql_bucket_mapping_is_the_python_one():
    values = [*range(0, 3000), *range(3000, 10**6, 997), 2**31 - 1]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT usage_latency_bucket(v) FROM unnest(%s::integer[]) AS v ORDER BY v", [values]
        )
        from_sql = [row[0] for row in cursor.fetchall()]
    assert from_sql == [bucket(v) for v in sorted(values)]
    assert all(within_bound(b, v) for b, v in zip(from_sql, sorted(values), strict=True) if v)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_rollup_that_dies_mid_batch_leaves_nothing_half_added(api, alice_app):
    store(api, alice_app, [20] * 45, cost=Decimal("0.01"))
    script = (
        "import os, django; django.setup()\n"
        "from django.db import transaction\n"
        "from apis.usage.services import usage_rollup\n"
        "usage_rollup(max_batches=1)\n"  # one batch committed
        "with transaction.atomic():\n"
        "    usage_rollup(max_batches=1)\n"  # the next one added, not committed
        "    os._exit(9)\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTCULLIS_USAGE_ROLLUP_BATCH_SIZE": "20",
    }
    died = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=False)

    assert died.returncode == 9
    assert requests("hour") == requests("day") == 20  # the committed batch, nothing more
    assert UsageEventPending.objects.count() == 25
    assert usage_rollup() == 25
    hour = UsageRollup.objects.get(granularity="hour")
    assert (hour.requests, hour.cost, hour.latency_histogram) == (45, Decimal("0.45"), {"20": 45})


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_rollups_add_each_event_once(api, alice_app, bob_app):
    for n, application in enumerate((alice_app, bob_app)):
        store(api, application, list(range(1, 601)), prefix=f"a{n}-")
    start = threading.Barrier(3)
    folded: list[int] = []

    def roll_up() -> None:
        try:
            start.wait()
            folded.append(usage_rollup())
        finally:
            connections.close_all()

    with override_settings(PORTCULLIS={"USAGE": {"ROLLUP_BATCH_SIZE": 7}}):
        workers = [threading.Thread(target=roll_up) for _ in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    assert sum(folded) == 1200 and len(folded) == 3
    assert requests("hour") == requests("day") == 1200
    for row in UsageRollup.objects.filter(granularity="day"):
        assert sum(row.latency_histogram.values()) == row.requests == 600
        assert (row.p50_ms, row.p95_ms) == (bucket(300), bucket(570))
