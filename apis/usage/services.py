"""Writes of usage accounting: storing events, moving them from the stream, rolling them up."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from django.db import DatabaseError, connection, models, transaction
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import Exists, OuterRef
from django.utils import timezone

from apis.models import Api
from apis.usage.conf import usage_settings
from apis.usage.histogram import ENTRIES
from apis.usage.models import UsageEvent, UsageEventPending, UsageLock, UsageRejected
from apis.usage.records import UsageRecord
from apis.usage.spend import spend_rollup_add
from apis.usage.stream import usage_stream
from keys.models import Application

logger = logging.getLogger(__name__)


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
    created = [pk for at in range(0, len(rows), INSERT_ROWS) for pk in _insert_new(rows, at)]
    UsageEventPending.objects.bulk_create([UsageEventPending(event_id=pk) for pk in created])
    return len(rows)


_EVENT_FIELDS = [field for field in UsageEvent._meta.concrete_fields if not field.primary_key]
# Rows per INSERT: their parameters stay within SQLite's limit on a statement's variables.
INSERT_ROWS = 500


def _insert_new(events: list[UsageEvent], at: int) -> list[int]:
    """Insert INSERT_ROWS of the events from `at`, skipping source ids already stored; the ids
    of those inserted, which alone go on the rollup's queue."""
    rows = events[at : at + INSERT_ROWS]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in _EVENT_FIELDS)
    row = "(" + ", ".join(["%s"] * len(_EVENT_FIELDS)) + ")"
    params = [
        field.get_db_prep_save(field.pre_save(event, add=True), connection)
        for event in rows
        for field in _EVENT_FIELDS
    ]
    values = ", ".join([row] * len(rows))
    # The table and columns are the model's; every value is a parameter.
    sql = f"INSERT INTO {UsageEvent._meta.db_table} ({columns}) VALUES {values} "  # noqa: S608
    sql += "ON CONFLICT (source_id) DO NOTHING RETURNING id"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [pk for (pk,) in cursor.fetchall()]


def _event_row(source_id: str, record: UsageRecord) -> UsageEvent:
    columns = {name: _bound(name)(value) for name, value in record.columns().items()}
    return UsageEvent(source_id=source_id, **columns)


@cache
def _bound(name: str) -> Callable[[Any], Any]:
    """What keeps a value of column `name` within what the column holds.

    Counts come from clients (a declared length) and providers (token counts): a number out of
    range must not turn a whole batch of events away. The ranges are the column types' on
    every database, so an embedded database holds what PostgreSQL would.
    """
    column = UsageEvent._meta.get_field(name)
    if isinstance(column, models.CharField):
        return lambda text: text[: column.max_length]
    if isinstance(column, models.DecimalField):
        whole = Decimal(10) ** (column.max_digits - column.decimal_places)
        dearest = whole - Decimal(1).scaleb(-column.decimal_places)
        # A call costs nothing or something, never less.
        return lambda amount: min(max(amount, Decimal(0)), dearest)
    if isinstance(column, models.IntegerField):
        least, most = BaseDatabaseOperations.integer_field_ranges[column.get_internal_type()]
        return lambda number: min(max(int(number), least), most)
    return lambda value: value


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
    return fields.get("event_id") or entry_id, UsageRecord.from_fields(fields)


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
        batch = _rollup_batch(usage_settings.ROLLUP_BATCH_SIZE)
        if not batch:
            break
        folded += batch
    return folded


def period_start(at: datetime, granularity: str) -> datetime:
    """The UTC hour or day that `at` falls in."""
    at = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0) if granularity == "day" else at


# The UTC hour or day of an event, a JSON object's entries and aggregate, in each database's
# words.
_DIALECT = {
    "postgresql": {
        "period": "date_trunc(g.granularity, e.at, 'UTC')",
        "hour": "date_trunc('hour', e.at, 'UTC')",
        "entries": f"{ENTRIES['postgresql']}(r.latency_histogram) AS h",
        "object_agg": "jsonb_object_agg",
        "latest": "GREATEST(apis_usagerollup.last_call_at, excluded.last_call_at)",
    },
    "sqlite": {
        "period": "strftime(CASE g.granularity WHEN 'hour' THEN '%%Y-%%m-%%d %%H:00:00' "
        "ELSE '%%Y-%%m-%%d 00:00:00' END, e.at)",
        "hour": "strftime('%%Y-%%m-%%d %%H:00:00', e.at)",
        "entries": f"{ENTRIES['sqlite']}(r.latency_histogram) AS h",
        "object_agg": "json_group_object",
        "latest": "max(coalesce(apis_usagerollup.last_call_at, excluded.last_call_at), "
        "excluded.last_call_at)",
    },
}

_SUMS = (
    "prompt_tokens",
    "completion_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "estimated_tokens",
    "cost",
    "bytes_in",
    "bytes_out",
)
_KEY = "granularity, period_start, api_id, application_id"

# The batch's events, by hour and by day, added into their rollup rows in one statement: sums
# added to the row's, the batch's latency buckets to the row's histogram, and p50 and p95 read
# from the histogram as it then is (the first bucket whose running count reaches the rank).
_FOLD = """
WITH periods AS (
  SELECT g.granularity, {period} AS period_start, e.api_id, e.application_id, e.status, e.at,
    e.prompt_tokens, e.completion_tokens, e.cache_read_tokens, e.cache_write_tokens,
    e.reasoning_tokens, e.cost, e.bytes_in, e.bytes_out,
    CASE WHEN e.estimated THEN e.prompt_tokens + e.completion_tokens ELSE 0 END
      AS estimated_tokens,
    usage_latency_bucket(e.latency_ms) AS bucket
  FROM apis_usageevent AS e
  CROSS JOIN (SELECT 'hour' AS granularity UNION ALL SELECT 'day') AS g
  WHERE e.id IN ({ids})
), totals AS (
  SELECT {key}, count(*) AS requests,
    sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors, max(at) AS last_call_at, {sums}
  FROM periods GROUP BY {key}
), buckets AS (
  SELECT {key}, bucket, sum(n) AS n
  FROM (
    SELECT {key}, bucket, count(*) AS n FROM periods GROUP BY {key}, bucket
    UNION ALL
    SELECT r.granularity, r.period_start, r.api_id, r.application_id,
      CAST(h.key AS integer), CAST(h.value AS integer)
    FROM apis_usagerollup AS r
    JOIN totals AS t ON r.granularity = t.granularity AND r.period_start = t.period_start
      AND r.api_id = t.api_id AND r.application_id = t.application_id,
    {entries}
  ) AS both_
  GROUP BY {key}, bucket
), ranked AS (
  SELECT {key}, bucket, n,
    sum(n) OVER (PARTITION BY {key} ORDER BY bucket) AS below,
    sum(n) OVER (PARTITION BY {key}) AS total
  FROM buckets
), histograms AS (
  SELECT {key}, {object_agg}(bucket, n) AS histogram,
    min(CASE WHEN below * 100 >= 50 * total THEN bucket END) AS p50,
    min(CASE WHEN below * 100 >= 95 * total THEN bucket END) AS p95
  FROM ranked GROUP BY {key}
)
INSERT INTO apis_usagerollup ({key}, requests, errors, {columns}, latency_histogram,
  p50_ms, p95_ms, last_call_at, updated_at)
SELECT t.granularity, t.period_start, t.api_id, t.application_id, t.requests, t.errors,
  {totals}, h.histogram, h.p50, h.p95, t.last_call_at, %s
FROM totals AS t JOIN histograms AS h
  ON h.granularity = t.granularity AND h.period_start = t.period_start
  AND h.api_id = t.api_id AND h.application_id = t.application_id
WHERE true
ON CONFLICT ({key}) DO UPDATE SET
  requests = apis_usagerollup.requests + excluded.requests,
  errors = apis_usagerollup.errors + excluded.errors,
  {added},
  latency_histogram = excluded.latency_histogram,
  p50_ms = excluded.p50_ms,
  p95_ms = excluded.p95_ms,
  last_call_at = {latest},
  updated_at = excluded.updated_at
"""


# The same events, added into their API's lifetime totals and into their API's hourly
# histogram, every application together: what /metrics reads, one row per API for the
# counters and one per API and hour for the latencies, however many applications and days.
_FOLD_TOTALS = """
WITH batch AS (
  SELECT e.api_id, e.status, {event_sums}
  FROM apis_usageevent AS e WHERE e.id IN ({ids})
)
INSERT INTO apis_apiusagetotal (api_id, requests, errors, {columns})
SELECT api_id, count(*), sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END), {sums}
FROM batch WHERE true GROUP BY api_id
ON CONFLICT (api_id) DO UPDATE SET
  requests = apis_apiusagetotal.requests + excluded.requests,
  errors = apis_apiusagetotal.errors + excluded.errors,
  {added}
"""

_FOLD_API_HOURS = """
WITH batch AS (
  SELECT {hour} AS period_start, e.api_id, usage_latency_bucket(e.latency_ms) AS bucket,
    count(*) AS n
  FROM apis_usageevent AS e WHERE e.id IN ({ids})
  GROUP BY 1, 2, 3
), buckets AS (
  SELECT period_start, api_id, bucket, sum(n) AS n
  FROM (
    SELECT period_start, api_id, bucket, n FROM batch
    UNION ALL
    SELECT r.period_start, r.api_id, CAST(h.key AS integer), CAST(h.value AS integer)
    FROM apis_apilatencyhour AS r
    JOIN (SELECT DISTINCT period_start, api_id FROM batch) AS t
      ON r.period_start = t.period_start AND r.api_id = t.api_id,
    {entries}
  ) AS both_
  GROUP BY period_start, api_id, bucket
)
INSERT INTO apis_apilatencyhour (period_start, api_id, latency_histogram)
SELECT period_start, api_id, {object_agg}(bucket, n)
FROM buckets WHERE true GROUP BY period_start, api_id
ON CONFLICT (period_start, api_id) DO UPDATE SET latency_histogram = excluded.latency_histogram
"""

# An event's sums, as the rollups add them: the tokens the gateway had to count apart.
_EVENT_SUMS = ", ".join(
    [
        *(f"e.{name}" for name in _SUMS if name != "estimated_tokens"),
        "CASE WHEN e.estimated THEN e.prompt_tokens + e.completion_tokens ELSE 0 END "
        "AS estimated_tokens",
    ]
)


def _fold_sql(template: str, ids: list[int], table: str = "") -> str:
    """`template` for the batch of `ids`, its sums added to those of the rows of `table`."""
    return template.format(
        ids=", ".join(["%s"] * len(ids)),
        key=_KEY,
        columns=", ".join(_SUMS),
        event_sums=_EVENT_SUMS,
        sums=", ".join(f"sum({name}) AS {name}" for name in _SUMS),
        totals=", ".join(f"t.{name}" for name in _SUMS),
        added=", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in _SUMS),
        **_DIALECT[connection.vendor],
    )


@transaction.atomic
def _rollup_batch(size: int) -> int:
    # One rollup at a time (the statements read the rows' histograms before they write them),
    # and the events taken off the queue in the same transaction as their sums are added: an
    # event is added once, or (after a crash) not at all and then once.
    UsageLock.objects.select_for_update().get_or_create(name="rollup")
    queue = UsageEventPending.objects.order_by("event_id")
    ids = list(queue.values_list("event_id", flat=True)[:size])
    if not ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_fold_sql(_FOLD, ids, "apis_usagerollup"), [*ids, timezone.now()])
        cursor.execute(_fold_sql(_FOLD_TOTALS, ids, "apis_apiusagetotal"), ids)
        cursor.execute(_fold_sql(_FOLD_API_HOURS, ids), ids)
    spend_rollup_add(event_ids=ids)
    UsageEventPending.objects.filter(event_id__in=ids).delete()
    return len(ids)


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
    pending = UsageEventPending.objects.filter(event=OuterRef("pk"))
    due = UsageEvent.objects.filter(~Exists(pending), at__lt=retention_cutoff(now))
    pruned = 0
    for _ in range(max_batches or usage_settings.PRUNE_MAX_BATCHES):
        ids = list(
            due.order_by("at").values_list("id", flat=True)[: usage_settings.PRUNE_BATCH_SIZE]
        )
        if not ids:
            break
        pruned += UsageEvent.objects.filter(pk__in=ids).delete()[0]
    return pruned
