"""The rollup's queue in a narrow table of its own, and the newest call in each rollup row.

Rolling up used to flip a `rolled_up` mark on each event, which rewrites the wide event row and
every one of its index entries; now each stored event gets a one-column row in
`UsageEventPending`, deleted when the event is added into the rollups. Events not rolled up yet
go on the queue here, before the mark is dropped.

`UsageRollup.last_call_at` is the newest call a row adds up, what the subscribers' "last call"
is read from once the events are pruned. Each application's newest daily row of each API is
backfilled: from its events where they are still stored, else from the start of that day's
newest hourly row (the hour of the last call).
"""

from django.db import migrations, models
from django.db.models import Exists, Max, OuterRef, Subquery


def queue_pending_events(apps, schema_editor):
    Event = apps.get_model("usage", "UsageEvent")
    Pending = apps.get_model("usage", "UsageEventPending")
    events, queue = Event._meta.db_table, Pending._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {queue} (event_id) SELECT id FROM {events} WHERE NOT rolled_up"  # noqa: S608
        )


def mark_queued_events(apps, schema_editor):
    Event = apps.get_model("usage", "UsageEvent")
    Pending = apps.get_model("usage", "UsageEventPending")
    Event.objects.filter(~Exists(Pending.objects.filter(event=OuterRef("pk")))).update(
        rolled_up=True
    )


def backfill_last_calls(apps, schema_editor):
    Event = apps.get_model("usage", "UsageEvent")
    Rollup = apps.get_model("usage", "UsageRollup")
    pair = {"api": OuterRef("api"), "application": OuterRef("application")}
    newest_day = Rollup.objects.filter(granularity="day", **pair).order_by("-period_start")
    newest = Rollup.objects.filter(
        granularity="day", period_start=Subquery(newest_day.values("period_start")[:1])
    )
    calls = Event.objects.filter(at__gte=OuterRef("period_start"), **pair).order_by()
    newest.update(
        last_call_at=Subquery(calls.values("api").annotate(at=Max("at")).values("at")[:1])
    )
    hours = Rollup.objects.filter(
        granularity="hour", period_start__gte=OuterRef("period_start"), **pair
    ).order_by("-period_start")
    newest.filter(last_call_at__isnull=True).update(
        last_call_at=Subquery(hours.values("period_start")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [("usage", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="UsageEventPending",
            fields=[
                (
                    "event",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="usage.usageevent",
                    ),
                ),
            ],
            options={
                "db_table": "apis_usageeventpending",
                "verbose_name": "usage event pending rollup",
            },
        ),
        migrations.RunPython(queue_pending_events, mark_queued_events),
        migrations.RemoveIndex(model_name="usageevent", name="usage_event_pending"),
        migrations.RemoveField(model_name="usageevent", name="rolled_up"),
        migrations.AddField(
            model_name="usagerollup",
            name="last_call_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(backfill_last_calls, migrations.RunPython.noop),
    ]
