"""Storing, ingesting and rolling up usage: totals are right, and stay right when run again."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
import redis.asyncio.connection
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from apis.usage.models import UsageEvent, UsageEventPending, UsageRejected, UsageRollup
from apis.usage.recorder import record_usage as record_usage_async
from apis.usage.services import (
    usage_entries_store,
    usage_events_store,
    usage_ingest,
    usage_rollup,
)
from apis.usage.stream import usage_stream
from apis.usage.tasks import usage_ingest_and_rollup
from tests.factories import ApiFactory
from tests.usage.conftest import NOON, needs_redis, record

record_usage = async_to_sync(record_usage_async)

pytestmark = pytest.mark.django_db


def totals(granularity: str = "hour") -> list[tuple]:
    return list(
        UsageRollup.objects.filter(granularity=granularity)
        .order_by("period_start", "api_id", "application_id")
        .values_list(
            "period_start", "requests", "errors", "prompt_tokens", "completion_tokens", "cost"
        )
    )


def test_rollup_counts_requests_errors_tokens_and_cost_per_hour_and_day(api, alice_app):
    later = NOON + timedelta(hours=1, minutes=5)
    usage_events_store(
        entries=[
            ("1-0", record(api, alice_app, status=200, prompt_tokens=5, cost=Decimal("0.01"))),
            ("2-0", record(api, alice_app, status=502, completion_tokens=7)),
            ("3-0", record(api, alice_app, status=429, at=later, cost=Decimal("0.02"))),
        ]
    )
    usage_rollup()
    assert totals("hour") == [
        (NOON, 2, 1, 5, 7, Decimal("0.01")),
        (NOON + timedelta(hours=1), 1, 1, 0, 0, Decimal("0.02")),
    ]
    assert totals("day") == [(NOON.replace(hour=0), 3, 2, 5, 7, Decimal("0.03"))]


def test_rollup_reports_median_and_95th_percentile_latency(api, alice_app):
    usage_events_store(
        entries=[(f"{n}-0", record(api, alice_app, latency_ms=n)) for n in range(1, 101)]
    )
    usage_rollup()
    row = UsageRollup.objects.get(granularity="hour")
    assert (row.p50_ms, row.p95_ms) == (50, 95)


def test_running_the_rollup_again_adds_nothing(api, alice_app):
    usage_events_store(entries=[(f"{n}-0", record(api, alice_app)) for n in range(30)])
    assert usage_rollup() == 30
    first = totals()
    assert usage_rollup() == 0
    assert totals() == first == [(NOON, 30, 0, 0, 0, Decimal("0"))]


def test_late_event_updates_its_hour_instead_of_adding_a_row(api, alice_app):
    usage_events_store(entries=[("1-0", record(api, alice_app))])
    usage_rollup()
    usage_events_store(entries=[("2-0", record(api, alice_app, status=500))])
    usage_rollup()
    assert totals() == [(NOON, 2, 1, 0, 0, Decimal("0"))]


def test_the_same_stream_entry_delivered_twice_counts_once(api, alice_app):
    entry = ("1700000000000-0", record(api, alice_app))
    usage_events_store(entries=[entry])
    usage_events_store(entries=[entry])
    usage_rollup()
    assert totals() == [(NOON, 1, 0, 0, 0, Decimal("0"))]


def test_events_of_a_deleted_api_are_dropped_not_fatal(api, alice_app):
    api_id = api.pk
    api.delete()
    stored = usage_events_store(entries=[("1-0", record(api, alice_app, api_id=api_id))])
    assert stored == 0
    assert not UsageEvent.objects.exists()


def test_an_api_deleted_before_its_events_are_rolled_up_holds_back_no_other(api, alice_app):
    other = ApiFactory(slug="other", published=True)
    usage_events_store(entries=[("1-0", record(api, alice_app)), ("2-0", record(other, alice_app))])
    api.delete()

    usage_rollup()

    assert UsageRollup.objects.get(granularity="hour").api == other
    assert not UsageEventPending.objects.exists()


@override_settings(REDIS_URL="")
def test_without_redis_an_event_is_stored_at_once(api, alice_app):
    record_usage(record(api, alice_app, request_id="r-1"))
    assert UsageEvent.objects.get().request_id == "r-1"


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_when_redis_is_down_the_event_is_stored_directly_not_lost(api, alice_app):
    record_usage(record(api, alice_app, request_id="r-2"))
    assert UsageEvent.objects.get().request_id == "r-2"


@needs_redis
def test_with_redis_the_event_waits_in_the_stream_until_ingested(api, alice_app):
    record_usage(record(api, alice_app, cost=Decimal("0.125"), model="echo/small"))
    assert not UsageEvent.objects.exists()
    assert usage_stream().length() == 1
    assert usage_ingest() == 1
    event = UsageEvent.objects.get()
    assert (event.cost, event.model, event.at) == (Decimal("0.125"), "echo/small", NOON)
    assert usage_stream().length() == 0


def _record_together(events, *, after=None, then=lambda: None) -> None:
    """Record `after` (if any), call `then`, and record the events at the same moment."""

    async def together():
        if after is not None:
            await record_usage_async(after)
        then()
        await asyncio.gather(*(record_usage_async(event) for event in events))

    async_to_sync(together)()


@needs_redis
def test_calls_ending_together_append_their_events_in_one_round_trip(api, alice_app, monkeypatch):
    sent: list[int] = []
    connection = redis.asyncio.connection.AbstractConnection
    original = connection.send_packed_command

    async def counting(self, command, check_health=True):
        sent.append(1)
        return await original(self, command, check_health)

    monkeypatch.setattr(connection, "send_packed_command", counting)
    events = [record(api, alice_app, request_id=f"r{n}") for n in range(20)]
    # The first event opens the connection; the twenty after it go in one round trip.
    _record_together(events, after=record(api, alice_app, request_id="first"), then=sent.clear)

    assert len(sent) == 1
    assert usage_ingest() == 21
    assert UsageEvent.objects.filter(request_id__startswith="r").count() == 20


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_when_redis_is_down_events_ending_together_are_each_stored_directly(api, alice_app):
    _record_together([record(api, alice_app, request_id=f"r{n}") for n in range(3)])

    assert sorted(UsageEvent.objects.values_list("request_id", flat=True)) == ["r0", "r1", "r2"]


@needs_redis
def test_entries_of_a_dead_consumer_are_taken_over(api, alice_app):
    stream = usage_stream()
    stream.ensure_group()
    for n in range(3):
        record_usage(record(api, alice_app, request_id=f"r{n}"))
    stream.take(consumer="dead-worker", count=2, claim_idle_ms=0)
    with override_settings(PORTCULLIS={"USAGE": {"CLAIM_IDLE_SECONDS": 0}}):
        assert usage_ingest() == 3
    assert stream.client.xpending(stream.name, stream.group)["pending"] == 0


def test_rollup_usage_command_ingests_and_rolls_up(api, alice_app, capsys):
    record_usage(record(api, alice_app))
    call_command("rollup_usage")
    assert "1 events rolled up" in capsys.readouterr().out
    assert totals() == [(NOON, 1, 0, 0, 0, Decimal("0"))]


@pytest.mark.skipif(
    bool(settings.REDIS_URL), reason="embedded default only: no broker, eager tasks"
)
def test_without_a_broker_the_scheduled_task_runs_in_process(api, alice_app):
    record_usage(record(api, alice_app))
    usage_ingest_and_rollup.delay()
    assert totals() == [(NOON, 1, 0, 0, 0, Decimal("0"))]


@needs_redis
def test_an_entry_the_database_refuses_is_set_aside_and_the_rest_is_stored(api, alice_app):
    stream = usage_stream()
    poison = {**record(api, alice_app, request_id="bad").to_fields(), "at": "not a time"}
    stream.client.xadd(stream.name, poison)
    record_usage(record(api, alice_app, request_id="good"))

    assert usage_ingest() == 1

    assert UsageEvent.objects.get().request_id == "good"
    assert UsageRejected.objects.get().fields["request_id"] == "bad"
    assert stream.length() == 0


def test_numbers_out_of_any_column_range_are_clamped_not_fatal(api, alice_app):
    huge = record(api, alice_app, bytes_in=10**30, latency_ms=-5, prompt_tokens=10**12)

    usage_events_store(entries=[("1-0", huge)])

    event = UsageEvent.objects.get()
    assert (event.bytes_in, event.latency_ms, event.prompt_tokens) == (2**63 - 1, 0, 2**31 - 1)


def test_every_usage_column_is_carried_from_the_record_through_the_stream(api, alice_app):
    sent = record(api, alice_app, status=201, latency_ms=7, bytes_in=3, bytes_out=4,
                  prompt_tokens=5, completion_tokens=6, cost=Decimal("0.25"), channel="mcp",
                  request_id="every", model="east", cache_read_tokens=1, cache_write_tokens=2,
                  reasoning_tokens=3, estimated=True, cached=True)  # fmt: skip

    usage_entries_store([("1-0", sent.to_fields())])

    event = UsageEvent.objects.get()
    stored = {name: getattr(event, name) for name in sent.columns()}
    assert stored == sent.columns()
    bookkeeping = {"id", "source_id"}
    columns = {column.attname for column in UsageEvent._meta.concrete_fields} - bookkeeping
    assert columns == set(sent.columns())
    assert event.source_id == sent.event_id
