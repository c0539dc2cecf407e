"""Celery tasks of usage accounting: thin wrappers over services, scheduled by beat.

The task names keep the catalog app's prefix: beat schedules and tasks already queued in a
running deployment refer to them by name.
"""

from __future__ import annotations

from celery import shared_task

from apis.usage import services
from apis.usage.conf import usage_settings


@shared_task(name="apis.usage_ingest")
def usage_ingest() -> int:
    """Move usage events from the Redis stream into the database."""
    return services.usage_ingest()


@shared_task(name="apis.usage_rollup")
def usage_rollup() -> int:
    """Fold new usage events into the hourly and daily rollups."""
    return services.usage_rollup()


@shared_task(name="apis.usage_ingest_and_rollup")
def usage_ingest_and_rollup() -> dict[str, int]:
    """Both, in order: what beat runs every minute and `manage.py rollup_usage` runs now.

    A run ingests a bounded number of batches; one that used them all leaves a backlog, so it
    queues the next run at once instead of letting the stream grow until the next minute.
    """
    result = {"ingested": services.usage_ingest(), "rolled_up": services.usage_rollup()}
    if result["ingested"] >= usage_settings.MAX_BATCHES * usage_settings.BATCH_SIZE:
        usage_ingest_and_rollup.delay()
    return result


@shared_task(name="apis.usage_prune")
def usage_prune() -> int:
    """Delete raw usage events past the retention, in bounded batches (rollups stay)."""
    return services.usage_prune()
