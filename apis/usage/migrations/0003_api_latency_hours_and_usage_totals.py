"""Per-API rollups for `/metrics`: each API's lifetime totals and its hourly latency histogram.

`/metrics` added up every daily rollup ever kept (days x applications) for its counters and
the last 24 hours' histograms of every application for its latency quantiles; it now reads one
row per API and one per API and hour, which the rollup adds each batch into as well. Both are
backfilled here from the rollups, under the rollup's lock so that no batch is half-added: the
totals from the daily rows, the hours from the hourly rows' histograms added up. Rollup workers
of the previous version must be stopped before this runs: a batch one of them adds afterwards
would be missing from the new rows.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Sum

TOTALS = (
    "requests",
    "errors",
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
# Each database's table function giving a JSON object's entries, and aggregate making one.
JSON = {
    "postgresql": ("jsonb_each_text", "jsonb_object_agg"),
    "sqlite": ("json_each", "json_group_object"),
}
HOURS = """
INSERT INTO apis_apilatencyhour (period_start, api_id, latency_histogram)
SELECT period_start, api_id, {object_agg}(bucket, n)
FROM (
  SELECT r.period_start, r.api_id, CAST(h.key AS integer) AS bucket,
    sum(CAST(h.value AS bigint)) AS n
  FROM apis_usagerollup AS r, {entries}(r.latency_histogram) AS h
  WHERE r.granularity = 'hour'
  GROUP BY r.period_start, r.api_id, CAST(h.key AS integer)
) AS buckets
GROUP BY period_start, api_id
"""


def backfill(apps, schema_editor):
    Lock = apps.get_model("usage", "UsageLock")
    Rollup = apps.get_model("usage", "UsageRollup")
    Total = apps.get_model("usage", "ApiUsageTotal")
    Lock.objects.select_for_update().get_or_create(name="rollup")
    days = Rollup.objects.filter(granularity="day").values("api").order_by()
    sums = days.annotate(**{f"sum_{name}": Sum(name) for name in TOTALS})
    Total.objects.bulk_create(
        Total(api_id=row["api"], **{name: row[f"sum_{name}"] for name in TOTALS}) for row in sums
    )
    entries, object_agg = JSON[schema_editor.connection.vendor]
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(HOURS.format(entries=entries, object_agg=object_agg))


class Migration(migrations.Migration):
    dependencies = [
        ("apis", "0018_usage_and_ai_move_to_their_apps"),
        ("usage", "0002_usage_pending_queue_and_last_call"),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiUsageTotal",
            fields=[
                (
                    "api",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="apis.api",
                    ),
                ),
                ("requests", models.PositiveBigIntegerField(default=0)),
                ("errors", models.PositiveBigIntegerField(default=0)),
                ("prompt_tokens", models.PositiveBigIntegerField(default=0)),
                ("completion_tokens", models.PositiveBigIntegerField(default=0)),
                ("cache_read_tokens", models.PositiveBigIntegerField(default=0)),
                ("cache_write_tokens", models.PositiveBigIntegerField(default=0)),
                ("reasoning_tokens", models.PositiveBigIntegerField(default=0)),
                ("estimated_tokens", models.PositiveBigIntegerField(default=0)),
                ("cost", models.DecimalField(decimal_places=6, default=0, max_digits=20)),
                ("bytes_in", models.PositiveBigIntegerField(default=0)),
                ("bytes_out", models.PositiveBigIntegerField(default=0)),
            ],
            options={
                "verbose_name": "usage total of an API",
                "db_table": "apis_apiusagetotal",
            },
        ),
        migrations.CreateModel(
            name="ApiLatencyHour",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("period_start", models.DateTimeField()),
                ("latency_histogram", models.JSONField(default=dict, editable=False)),
                (
                    "api",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="apis.api"
                    ),
                ),
            ],
            options={
                "db_table": "apis_apilatencyhour",
                "ordering": ["-period_start", "api_id"],
                "constraints": [
                    models.UniqueConstraint(fields=("period_start", "api"), name="api_latency_hour")
                ],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
