"""Fixtures of the usage tests: an API and two developers' applications, a clean stream."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.apps.registry import Apps
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apis.usage.records import UsageRecord
from apis.usage.stream import usage_stream
from tests.factories import ApiFactory, ApplicationFactory

needs_redis = pytest.mark.skipif(
    not settings.REDIS_URL, reason="needs Redis: the usage stream lives there (REDIS_URL)"
)
needs_postgres = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="needs PostgreSQL: a Celery worker process must share the tests' database",
)

# Noon two days ago: well inside the retention of raw events, whenever the tests run.
NOON = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=2)
DAY = f"{NOON:%Y-%m-%d}"
NEXT_DAY = f"{NOON + timedelta(days=1):%Y-%m-%d}"


@pytest.fixture(autouse=True)
def _empty_stream():
    """Each test starts with no usage entries left in Redis by earlier tests."""
    stream = usage_stream()
    if stream is not None:
        stream.client.delete(stream.name)
    yield


@pytest.fixture
def api(db):
    return ApiFactory(slug="weather", published=True)


@pytest.fixture
def alice_app(alice):
    return ApplicationFactory(owner=alice, name="alice-app")


@pytest.fixture
def bob_app(bob):
    return ApplicationFactory(owner=bob, name="bob-app")


def record(api, application, **fields) -> UsageRecord:
    """A usage record of a successful call at noon, with fields overridden."""
    values = {
        "at": NOON,
        "api_id": api.pk,
        "application_id": application.pk,
        "subscription_id": None,
        "status": 200,
        "latency_ms": 10,
        "bytes_in": 100,
        "bytes_out": 1000,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost": Decimal("0"),
        "channel": "http",
        "request_id": "req",
        "model": "",
    }
    return UsageRecord(**{**values, **fields})


@contextmanager
def schema_at(target: list[tuple[str, str]]) -> Iterator[Apps]:
    """The database migrated back to `target`, its models yielded; forward to the latest after."""
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(target)
    try:
        yield MigrationExecutor(connection).loader.project_state(target).apps
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(leaves)
