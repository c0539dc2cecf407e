"""Writes of usage accounting: storing events, moving them from the stream, rolling them up."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import DatabaseError, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce

from apis.models import Api, UsageEvent, UsageLock, UsageRejected, UsageRollup
from apis.usage.conf import usage_settings
from apis.usage.records import UsageRecord
from apis.usage.spend import spend_rollup_recompute
from apis.usage.stream import usage_stream
from keys.models import Application

logger = logging.getLogger(__name__)

GRANULARITIES = ("hour", "day")


@transaction.atomic
def usage_event_create(*, record: UsageRecord, source_id: str) -> None:
    """Store one event directly (the embedded default, or when the stream is unreachable)."""
    usage_events_store(entries=[(source_id, record)])


@transaction.atomic
def usage_events_store(*, entries: Iterable[tuple[str, UsageRecord]]) -> int:
    """Store events, skipping ones already stored and ones whose API or application is gone."""
    entries = list(entries)
    api_ids = set(
        Api.objects.filter(pk__in={r.api_id for _, r in entries}).values_list("pk", flat=True)
    )
    app_ids = set(
        Application.objects.filter(pk__in={r.application_id for _, r in entries}).values_list(
            "pk", flat=True
        )
    )
    kept_from = retention_cutoff()
    rows = [
        _event_row(source_id, record)
        for source_id, record in entries
        if record.api_id in api_ids and record.application_id in app_ids and record.at >= kept_from
    ]
    if len(rows) < len(entries):
        logger.info(
            "%d usage events dropped: API or application deleted, or older than the retention",
            len(entries) - len(rows),
        )
    # The unique source id makes a second delivery of the same entry a no-op.
    UsageEvent.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _event_row(source_id: str, record: UsageRecord) -> UsageEvent:
    record = record.bounded()
    return UsageEvent(
        source_id=source_id,
        at=record.at,
        api_id=record.api_id,
        application_id=record.application_id,
        subscription_id=record.subscription_id,
        status=record.status,
        latency_ms=record.latency_ms,
        bytes_in=record.bytes_in,
        bytes_out=record.bytes_out,
        prompt_tokens=record.prompt_tokens,
        completion_tokens=record.completion_tokens,
        cache_read_tokens=record.cache_read_tokens,
        cache_write_tokens=record.cache_write_tokens,
        reasoning_tokens=record.reasoning_tokens,
        estimated=record.estimated,
        cached=record.cached,
        cost=record.cost,
        channel=record.channel[:8],
        request_id=record.request_id[:128],
        model=record.model[:200],
    )


def consumer_name() -> str:
    """This process's name in the consumer group: host and process id."""
    return f"{socket.gethostname()}-{os.getpid()}"


def usage_ingest(*, max_batches: int | None = None) -> int:
    """Move events from the Redis stream into the database, batch by batch; returns how many.

    Each batch is committed before it is acknowledged: a crash in between re-delivers entries
    that the unique source id then ignores, so nothing is lost and nothing is counted twice.
    """
    stream = usage_stream()
    if stream is None:
        return 0
    stream.ensure_group()
    consumer, moved = consumer_name(), 0
    for _ in range(max_batches or usage_settings.MAX_BATCHES):
        entries = stream.take(
            consumer=consumer,
            count=usage_settings.BATCH_SIZE,
            claim_idle_ms=int(usage_settings.CLAIM_IDLE_SECONDS * 1000),
        )
        if not entries:
            break
        moved += usage_entries_store(entries)
        stream.acknowledge([entry_id for entry_id, _ in entries])
    return moved


def usage_entries_store(entries: list[tuple[str, dict[str, str]]]) -> int:
    """Store a batch of stream entries; one the database refuses is set aside, not retried.

    A batch goes in one statement; when that fails, entry by entry, so that a single entry
    the database will never take cannot hold back every event behind it.
    """
    try:
        with transaction.atomic():
            return usage_events_store(entries=[_record_of(*entry) for entry in entries if entry[1]])
    except (DatabaseError, ValueError, KeyError):
        logger.warning("a usage batch was refused; storing its %d entries one by one", len(entries))
    return sum(_store_or_set_aside(entry_id, fields) for entry_id, fields in entries if fields)


def _record_of(entry_id: str, fields: dict[str, str]) -> tuple[str, UsageRecord]:
    """The entry's event under the gateway's own event id (the entry's, for older entries)."""
    record = UsageRecord.from_fields(fields)
    return record.event_id or entry_id, record


def _store_or_set_aside(entry_id: str, fields: dict[str, str]) -> int:
    try:
        with transaction.atomic():
            return usage_events_store(entries=[_record_of(entry_id, fields)])
    except (DatabaseError, ValueError, KeyError) as exc:
        logger.error("usage entry %s set aside: %s", entry_id, exc)
        UsageRejected.objects.get_or_create(
            source_id=entry_id,
            defaults={"fields": fields, "reason": f"{type(exc).__name__}: {exc}"},
        )
        return 0


def usage_rollup(*, max_batches: int | None = None) -> int:
    """Fold events not yet rolled up into the hourly and daily rollups; returns how many."""
    folded = 0
    for _ in range(max_batches or usage_settings.MAX_BATCHES):
        batch = _rollup_batch(usage_settings.BATCH_SIZE)
        if not batch:
            break
        folded += batch
    return folded


@dataclass(frozen=True)
class Period:
    """One rollup row's key."""

    granularity: str
    start: datetime
    api_id: int
    application_id: int

    @property
    def end(self) -> datetime:
        return self.start + (
            timedelta(hours=1) if self.granularity == "hour" else timedelta(days=1)
        )


def period_start(at: datetime, granularity: str) -> datetime:
    """The UTC hour or day that `at` falls in."""
    at = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0) if granularity == "day" else at


@transaction.atomic
def _rollup_batch(size: int) -> int:
    # One rollup at a time: concurrent runs would recompute the same rows from different
    # snapshots. The lock row serialises them; the second waits, then finds less to do.
    UsageLock.objects.select_for_update().get_or_create(name="rollup")
    pending = list(
        UsageEvent.objects.filter(rolled_up=False)
        .order_by("id")
        .values_list("id", "at", "api_id", "application_id")[:size]
    )
    if not pending:
        return 0
    periods = {
        Period(granularity, period_start(at, granularity), api_id, application_id)
        for _, at, api_id, application_id in pending
        for granularity in GRANULARITIES
    }
    for period in periods:
        _recompute(period)
        if period.granularity == "day":
            spend_rollup_recompute(
                day=period.start, api_id=period.api_id, application_id=period.application_id
            )
    UsageEvent.objects.filter(pk__in=[row[0] for row in pending]).update(rolled_up=True)
    return len(pending)


def _recompute(period: Period) -> None:
    """Recount a period from all its events, so running twice gives the same row."""
    events = UsageEvent.objects.filter(
        api_id=period.api_id,
        application_id=period.application_id,
        at__gte=period.start,
        at__lt=period.end,
    )
    totals = events.aggregate(
        requests=Count("id"),
        errors=Count("id", filter=Q(status__gte=400)),
        prompt_tokens=Coalesce(Sum("prompt_tokens"), 0),
        completion_tokens=Coalesce(Sum("completion_tokens"), 0),
        cache_read_tokens=Coalesce(Sum("cache_read_tokens"), 0),
        cache_write_tokens=Coalesce(Sum("cache_write_tokens"), 0),
        reasoning_tokens=Coalesce(Sum("reasoning_tokens"), 0),
        cost=Sum("cost"),
        bytes_in=Coalesce(Sum("bytes_in"), 0),
        bytes_out=Coalesce(Sum("bytes_out"), 0),
    )
    # Apart: inside the aggregate above, the token names are already the totals'.
    estimated = events.filter(estimated=True).aggregate(
        tokens=Coalesce(Sum(F("prompt_tokens") + F("completion_tokens")), 0)
    )
    totals["estimated_tokens"] = estimated["tokens"]
    latencies = list(events.order_by("latency_ms").values_list("latency_ms", flat=True))
    totals.update(
        cost=totals["cost"] or 0,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
    )
    UsageRollup.objects.update_or_create(
        granularity=period.granularity,
        period_start=period.start,
        api_id=period.api_id,
        application_id=period.application_id,
        defaults=totals,
    )


def percentile(ordered: list[int], rank: int) -> int:
    """The nearest-rank percentile of an ascending list (0 when empty)."""
    if not ordered:
        return 0
    index = max(0, -(-rank * len(ordered) // 100) - 1)
    return ordered[index]


def retention_cutoff(now: datetime | None = None) -> datetime:
    """Events before this instant are past the retention: start of the UTC day, RETENTION_DAYS
    ago, so that a pruned day's rollups never lose events they were computed from."""
    now = now or datetime.now(UTC)
    return period_start(now, "day") - timedelta(days=usage_settings.RETENTION_DAYS)


def usage_prune(*, now: datetime | None = None, max_batches: int | None = None) -> int:
    """Delete rolled-up events older than the retention, in bounded batches; returns how many.

    Each batch is one short transaction over at most PRUNE_BATCH_SIZE rows found through the
    index on `at`: the table is never locked for long and memory stays flat, however many
    events are due. Events not yet rolled up are kept until they are.
    """
    due = UsageEvent.objects.filter(at__lt=retention_cutoff(now), rolled_up=True)
    pruned = 0
    for _ in range(max_batches or usage_settings.PRUNE_MAX_BATCHES):
        ids = list(
            due.order_by("at").values_list("id", flat=True)[: usage_settings.PRUNE_BATCH_SIZE]
        )
        if not ids:
            break
        pruned += UsageEvent.objects.filter(pk__in=ids).delete()[0]
    return pruned
