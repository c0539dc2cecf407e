"""A real Celery worker on the Redis broker moves events from the stream into rollups.

Killing the worker half-way and starting another loses nothing and counts nothing twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management import call_command
from django.db.models import Sum

from apis.usage.models import UsageEvent, UsageRollup
from apis.usage.recorder import record_usage as record_usage_async
from apis.usage.stream import usage_stream
from apis.usage.tasks import usage_ingest_and_rollup
from tests.servers import ROOT, database_url
from tests.usage.conftest import needs_postgres, needs_redis, record

record_usage = async_to_sync(record_usage_async)

pytestmark = [needs_redis, needs_postgres, pytest.mark.django_db(transaction=True)]


@contextmanager
def celery_worker(**env: str) -> Iterator[subprocess.Popen]:
    """`celery -A portal worker` in its own process, on the tests' database and Redis."""
    command = [str(Path(sys.executable).with_name("celery")), "-A", "portal", "worker"]
    command += ["--pool=solo", "--without-heartbeat", "--without-gossip", "--loglevel=WARNING"]
    process_env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        **env,
    }
    worker = subprocess.Popen(command, cwd=ROOT, env=process_env)
    try:
        yield worker
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def wait_until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)


def hourly_requests() -> int:
    rows = UsageRollup.objects.filter(granularity="hour")
    return rows.aggregate(total=Sum("requests"))["total"] or 0


def daily_cost() -> Decimal:
    rows = UsageRollup.objects.filter(granularity="day")
    return rows.aggregate(total=Sum("cost"))["total"] or Decimal(0)


def record_calls(api, application, count: int) -> None:
    for n in range(count):
        record_usage(record(api, application, request_id=f"r{n}", cost=Decimal("0.001")))


def test_worker_moves_events_from_the_stream_into_rollups(api, alice_app):
    record_calls(api, alice_app, 40)
    with celery_worker():
        usage_ingest_and_rollup.delay()
        wait_until(lambda: hourly_requests() == 40)
    assert daily_cost() == Decimal("0.040")
    assert usage_stream().length() == 0


def test_a_backlog_beyond_one_runs_budget_is_ingested_without_waiting_for_beat(api, alice_app):
    record_calls(api, alice_app, 100)
    budget = {"PORTCULLIS_USAGE_BATCH_SIZE": "10", "PORTCULLIS_USAGE_MAX_BATCHES": "2"}
    with celery_worker(**budget):
        usage_ingest_and_rollup.delay()  # one run takes 20; the rest follow on their own
        wait_until(lambda: hourly_requests() == 100)
    assert usage_stream().length() == 0


def kill_mid_batch(worker: subprocess.Popen) -> None:
    """Freeze the worker until it is caught holding entries it has not acknowledged, then kill.

    A kill at a random moment may land between two batches, where there is nothing to lose.
    """
    stream = usage_stream()
    for _ in range(2000):
        worker.send_signal(signal.SIGSTOP)
        if stream.client.xpending(stream.name, stream.group)["pending"] > 0:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            return
        worker.send_signal(signal.SIGCONT)
        time.sleep(0.002)
    raise AssertionError("the worker was never caught in the middle of a batch")


def test_worker_killed_half_way_loses_nothing_and_counts_nothing_twice(api, alice_app):
    total = 3000
    record_calls(api, alice_app, total)
    small_batches = {
        "PORTCULLIS_USAGE_BATCH_SIZE": "20",
        "PORTCULLIS_USAGE_CLAIM_IDLE_SECONDS": "1",
    }
    with celery_worker(**small_batches) as doomed:
        usage_ingest_and_rollup.delay()
        wait_until(lambda: UsageEvent.objects.count() >= 200)
        kill_mid_batch(doomed)
    stream = usage_stream()
    assert stream.client.xpending(stream.name, stream.group)["pending"] > 0  # died mid-batch
    assert UsageEvent.objects.count() < total
    with celery_worker(**small_batches):
        usage_ingest_and_rollup.delay()
        wait_until(lambda: hourly_requests() == total, timeout=120)
    assert UsageEvent.objects.count() == total
    assert daily_cost() == Decimal("3.000")
    call_command("rollup_usage")  # running it again changes nothing
    assert (hourly_requests(), daily_cost()) == (total, Decimal("3.000"))
