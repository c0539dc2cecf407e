"""`manage.py rollup_usage`: move usage events into the database and roll them up, now."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from apis.usage.tasks import usage_ingest_and_rollup


class Command(BaseCommand):
    help = "Ingest usage events from the stream and roll them up by hour and day (what beat runs)."

    def handle(self, *args, **options) -> None:
        result = usage_ingest_and_rollup()
        self.stdout.write(
            f"{result['ingested']} events ingested, {result['rolled_up']} events rolled up."
        )
