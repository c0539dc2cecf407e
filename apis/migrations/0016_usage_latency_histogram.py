"""Latency histograms in the usage rollups, so that rolling up adds a batch instead of
recounting every event of the hour and day it touches.

A histogram is a JSON object from a latency in milliseconds to how many calls took it: up to
100 ms each millisecond is its own bucket; above, buckets are log-spaced with a relative
accuracy of 1% (DDSketch's mapping, gamma = 1.01 / 0.99), named by their representative value,
rounded to the millisecond (apis/usage/histogram.py has the same mapping for SQLite, where
it is registered on each connection; a test holds the two equal). Existing rollups are
backfilled from their events where every one is still stored, and from their p50 and p95
otherwise: a histogram that gives those two back.
"""

from django.db import migrations, models

FUNCTIONS = """
CREATE FUNCTION usage_latency_bucket(ms integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN ms <= 100 THEN greatest(ms, 0)
    ELSE least(
      round(2 * power(1.01::float8 / 0.99, ceil(ln(ms::float8) / ln(1.01::float8 / 0.99)))
            / (1.01::float8 / 0.99 + 1)),
      2147483647)::integer
  END
$$;

CREATE FUNCTION usage_histogram_add(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb)
  FROM (
    SELECT k, sum(v::bigint) AS n
    FROM (SELECT * FROM jsonb_each_text(a) UNION ALL SELECT * FROM jsonb_each_text(b)) AS e (k, v)
    GROUP BY k
  ) AS s
$$;
"""

DROP_FUNCTIONS = """
DROP FUNCTION usage_histogram_add(jsonb, jsonb);
DROP FUNCTION usage_latency_bucket(integer);
"""

FROM_EVENTS = """
WITH buckets AS (
  SELECT g.granularity, date_trunc(g.granularity, e.at, 'UTC') AS period_start,
    e.api_id, e.application_id, usage_latency_bucket(e.latency_ms) AS bucket, count(*) AS n
  FROM apis_usageevent AS e CROSS JOIN (VALUES ('hour'), ('day')) AS g (granularity)
  WHERE e.rolled_up
  GROUP BY 1, 2, 3, 4, 5
), histograms AS (
  SELECT granularity, period_start, api_id, application_id,
    jsonb_object_agg(bucket, n) AS histogram, sum(n) AS events
  FROM buckets GROUP BY 1, 2, 3, 4
)
UPDATE apis_usagerollup AS r SET latency_histogram = h.histogram
FROM histograms AS h
WHERE (r.granularity, r.period_start, r.api_id, r.application_id)
    = (h.granularity, h.period_start, h.api_id, h.application_id)
  AND h.events = r.requests
"""

# Half the calls at the p50's bucket, the rest at the p95's: both read back as they were.
FROM_PERCENTILES = """
UPDATE apis_usagerollup SET latency_histogram = usage_histogram_add(
    {object}(usage_latency_bucket(p50_ms), (requests + 1) / 2),
    {object}(usage_latency_bucket(p95_ms), requests - (requests + 1) / 2))
WHERE latency_histogram = '{{}}' AND requests > 0
"""


def backfill(apps, schema_editor) -> None:
    postgresql = schema_editor.connection.vendor == "postgresql"
    if postgresql:
        schema_editor.execute(FUNCTIONS)
        schema_editor.execute(FROM_EVENTS)
    constructor = "jsonb_build_object" if postgresql else "json_object"
    schema_editor.execute(FROM_PERCENTILES.format(object=constructor))


def drop_functions(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_FUNCTIONS)


class Migration(migrations.Migration):
    dependencies = [("apis", "0015_spend_alerts")]

    operations = [
        migrations.AddField(
            model_name="usagerollup",
            name="latency_histogram",
            field=models.JSONField(default=dict, editable=False),
        ),
        migrations.RunPython(backfill, drop_functions),
    ]
