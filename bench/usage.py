"""`python -m bench.usage`: usage storage at scale — ingest, rollup, the usage API, pruning.

Loads BENCH_USAGE_EVENTS (10 million by default) events spread over the last 40 days into a
fresh PostgreSQL database (BENCH_USAGE_DATABASE_URL, recreated), 10 APIs x 100 applications
of 10 teams, everything but the last hour already rolled up, as a gateway that has run for 40
days leaves it. Then measures: the ingest path (the stream's batches into the table), the
rollup of the fresh hour, the usage API's p95 over a 30-day window (for staff and for a member
of one team), the subscribers' last calls, `/metrics`, and pruning the 10 days past the
retention in bounded batches, beside dropping a table of the same rows (what dropping a
monthly partition would cost).

With BENCH_USAGE_KEEP=1 the loaded database is kept as a template (`<name>_kept_<events>`) and
a later run with as many events starts from a copy of it, migrated to the current schema,
instead of loading again.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial

import psycopg

from bench.catalog import reset_database

DATABASE_URL = os.environ.get(
    "BENCH_USAGE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portcullis_bench_usage"
)
EVENTS = int(os.environ.get("BENCH_USAGE_EVENTS", "10000000"))
FRESH = int(os.environ.get("BENCH_USAGE_FRESH", "100000"))
KEEP = os.environ.get("BENCH_USAGE_KEEP", "") == "1"
APIS, APPLICATIONS, TEAMS, DAYS, QUERIES = 10, 100, 10, 40, 50
COLUMNS = (
    "source_id, at, api_id, application_id, status, latency_ms, bytes_in, bytes_out, "
    "prompt_tokens, completion_tokens, cost, channel, request_id, model, "
    "cache_read_tokens, cache_write_tokens, reasoning_tokens, estimated, cached"
)


def main() -> None:
    restored = KEEP and _restore_kept()
    if not restored:
        reset_database(DATABASE_URL)
    os.environ.update(DATABASE_URL=DATABASE_URL, LOG_LEVEL="WARNING")
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.core.management import call_command

    print(f"usage storage with {EVENTS:,} events over {DAYS} days (PostgreSQL)")
    print(f"{'step':<36} {'seconds':>9}  detail")
    if restored:
        _show("migrate the kept copy", _timed(lambda: call_command("migrate", verbosity=0)))
    else:
        call_command("migrate", verbosity=0)
        _catalog()
    api_ids, app_ids, staff, member = _bench_catalog()
    now = _loaded_until() if restored else datetime.now(UTC)
    if not restored:
        _show("events loaded (COPY)", *_timed_rate(lambda: _load(api_ids, app_ids, now)))
        _show("rollups of the loaded days (SQL)", _timed(_rollups_of_loaded))
        if KEEP:
            _keep()
    _show("vacuum analyze (autovacuum's work)", _timed(_vacuum))
    _show("ingest path (500-event batches)", *_timed_rate(lambda: _ingest(api_ids, app_ids, now)))
    _show("rollup of the fresh hour", *_timed_rate(_rollup))
    for figure in _usage_api(staff, member, api_ids, now):
        _show(*figure)
    _show("drop a table of the expired rows", _timed(_drop_stand_in))
    _show("prune the expired rows (batches)", *_timed_rate(_prune))


def _kept_name() -> str:
    return f"{DATABASE_URL.rsplit('/', 1)[1]}_kept_{EVENTS}"


def _admin(statement: str, params: tuple = ()) -> list[tuple]:
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def _restore_kept() -> bool:
    """The bench database as a fresh copy of the kept one, when there is one."""
    if not _admin("SELECT 1 FROM pg_database WHERE datname = %s", (_kept_name(),)):
        return False
    name = DATABASE_URL.rsplit("/", 1)[1]
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{_kept_name()}"')
    return True


def _keep() -> None:
    """The loaded database copied aside, for later runs to start from."""
    from django.db import connection

    # The pool's connections keep the database busy, which a template must not be.
    connection.close()
    connection.close_pool()
    _admin(f'DROP DATABASE IF EXISTS "{_kept_name()}"')
    name = DATABASE_URL.rsplit("/", 1)[1]
    _admin(f'CREATE DATABASE "{_kept_name()}" TEMPLATE "{name}"')


def _loaded_until():
    """The instant the kept events were loaded up to: an hour after the newest one."""
    from django.db.models import Max

    from apis.usage.models import UsageEvent

    return UsageEvent.objects.aggregate(newest=Max("at"))["newest"] + timedelta(hours=1)


def _catalog() -> None:
    """APIS APIs, APPLICATIONS applications in TEAMS teams, all subscribed to the middle API;
    a superuser and a member of the first team."""
    from django.contrib.auth import get_user_model

    from apis.models import Api, Plan, Subscription
    from keys.models import Application
    from teams.models import Membership, Role, Team

    users = get_user_model().objects
    staff = users.create_superuser("bench-staff")
    member = users.create_user("bench-member")
    teams = [Team.objects.create(name=f"team-{n}") for n in range(TEAMS)]
    Membership.objects.create(team=teams[0], user=member, role=Role.DEVELOPER)
    apis = [
        Api.objects.create(slug=f"api-{n}", name=f"API {n}", upstream_url="http://127.0.0.1:9/")
        for n in range(APIS)
    ]
    plan = Plan.objects.create(api=apis[APIS // 2], name="bench")
    for n in range(APPLICATIONS):
        team = teams[n * TEAMS // APPLICATIONS]
        app = Application.objects.create(team=team, created_by=staff, name=f"app-{n}")
        Subscription.objects.create(
            application=app, api=plan.api, plan=plan, status=Subscription.Status.ACTIVE
        )


def _bench_catalog() -> tuple[list[int], list[int], object, object]:
    from django.contrib.auth import get_user_model

    from apis.models import Api
    from keys.models import Application

    users = get_user_model().objects
    api_ids = list(Api.objects.order_by("pk").values_list("pk", flat=True))
    app_ids = list(Application.objects.order_by("pk").values_list("pk", flat=True))
    return api_ids, app_ids, users.get(username="bench-staff"), users.get(username="bench-member")


def _load(api_ids: list[int], app_ids: list[int], now: datetime) -> int:
    """EVENTS rows over DAYS days, oldest first, rolled up but for the last hour."""
    from django.db import connection

    span = DAYS * 86_400
    rng = random.Random(16)  # noqa: S311 - made-up traffic, not secrets
    fresh_from = now - timedelta(hours=1)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY apis_usageevent ({COLUMNS}) FROM STDIN") as copy,
    ):
        for n in range(EVENTS):
            at = now - timedelta(seconds=span * (1 - n / EVENTS) + 3600)
            copy.write_row(_row(f"b{n}", at, rng, api_ids, app_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO apis_usageeventpending (event_id) SELECT id FROM apis_usageevent"
            " WHERE at >= %s",
            [fresh_from],
        )
        cursor.execute("ANALYZE apis_usageevent")
    return EVENTS


def _row(source_id, at, rng, api_ids, app_ids) -> tuple:
    status = 200 if rng.random() < 0.97 else 502
    return (
        source_id, at, rng.choice(api_ids), rng.choice(app_ids), status, rng.randint(5, 400),
        200, 2000, 0, 0, 0, "http", source_id, "", 0, 0, 0, False, False,
    )  # fmt: skip


def _rollups_of_loaded() -> None:
    """The rollups the loaded days would have, in one statement per granularity."""
    from django.db import connection

    with connection.cursor() as cursor:
        for granularity in ("hour", "day"):
            cursor.execute(
                """
                INSERT INTO apis_usagerollup (granularity, period_start, api_id, application_id,
                  requests, errors, prompt_tokens, completion_tokens, cost, p50_ms, p95_ms,
                  bytes_in, bytes_out, updated_at, cache_read_tokens, cache_write_tokens,
                  estimated_tokens, reasoning_tokens, latency_histogram, last_call_at)
                SELECT %s, period, api_id, application_id, sum(n), sum(errors), 0, 0, 0,
                  min(bucket) FILTER (WHERE below * 100 >= 50 * total),
                  min(bucket) FILTER (WHERE below * 100 >= 95 * total),
                  sum(bytes_in), sum(bytes_out), now(), 0, 0, 0, 0, jsonb_object_agg(bucket, n),
                  max(last_at)
                FROM (
                  SELECT *, sum(n) OVER (PARTITION BY period, api_id, application_id
                      ORDER BY bucket) AS below,
                    sum(n) OVER (PARTITION BY period, api_id, application_id) AS total
                  FROM (
                    SELECT date_trunc(%s, at, 'UTC') AS period, api_id, application_id,
                      usage_latency_bucket(latency_ms) AS bucket, count(*) AS n,
                      count(*) FILTER (WHERE status >= 400) AS errors,
                      sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out, max(at) AS last_at
                    FROM apis_usageevent
                    WHERE id NOT IN (SELECT event_id FROM apis_usageeventpending)
                    GROUP BY 1, 2, 3, 4
                  ) AS b
                ) AS ranked
                GROUP BY period, api_id, application_id
                """,
                [granularity, granularity],
            )
        cursor.execute(_API_TOTALS_OF_LOADED)
        cursor.execute(_API_HOURS_OF_LOADED)
        cursor.execute("ANALYZE apis_usagerollup, apis_apiusagetotal, apis_apilatencyhour")


# What the rollup adds into each API's lifetime totals and hourly histograms, for the loaded
# days at once (the loaded events carry no tokens, cost or estimates).
_API_TOTALS_OF_LOADED = """
INSERT INTO apis_apiusagetotal (api_id, requests, errors, prompt_tokens, completion_tokens,
  cache_read_tokens, cache_write_tokens, reasoning_tokens, estimated_tokens, cost, bytes_in,
  bytes_out)
SELECT api_id, count(*), count(*) FILTER (WHERE status >= 400), 0, 0, 0, 0, 0, 0, 0,
  sum(bytes_in), sum(bytes_out)
FROM apis_usageevent WHERE id NOT IN (SELECT event_id FROM apis_usageeventpending)
GROUP BY api_id
"""
_API_HOURS_OF_LOADED = """
INSERT INTO apis_apilatencyhour (period_start, api_id, latency_histogram)
SELECT period, api_id, jsonb_object_agg(bucket, n)
FROM (
  SELECT date_trunc('hour', at, 'UTC') AS period, api_id,
    usage_latency_bucket(latency_ms) AS bucket, count(*) AS n
  FROM apis_usageevent WHERE id NOT IN (SELECT event_id FROM apis_usageeventpending)
  GROUP BY 1, 2, 3
) AS b
GROUP BY period, api_id
"""


def _vacuum() -> None:
    """The tables as autovacuum keeps them on a gateway that has run for weeks: visibility
    maps set (index-only scans read no table pages) and statistics fresh."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM ANALYZE apis_usageevent, apis_usagerollup, apis_apiusagetotal,"
            " apis_apilatencyhour"
        )


def _ingest(api_ids: list[int], app_ids: list[int], now: datetime) -> int:
    """FRESH events of the last hour through the stream's storing path, 500 at a time."""
    from apis.usage.records import UsageRecord
    from apis.usage.services import usage_entries_store

    batch: list = []
    rng = random.Random(61)  # noqa: S311
    for n in range(FRESH):
        row = _row(f"f{n}", now - timedelta(seconds=rng.uniform(0, 3600)), rng, api_ids, app_ids)
        record = UsageRecord(
            at=row[1], api_id=row[2], application_id=row[3], subscription_id=None,
            status=row[4], latency_ms=row[5], bytes_in=200, bytes_out=2000, prompt_tokens=0,
            completion_tokens=0, cost=Decimal(0), channel="http", request_id=row[0],
        )  # fmt: skip
        batch.append((f"{n}-0", record.to_fields()))
        if len(batch) == 500:
            usage_entries_store(batch)
            batch = []
    return FRESH


def _rollup() -> int:
    from apis.usage.services import usage_rollup

    folded = 0
    while batch := usage_rollup():
        folded += batch
    return folded


def _usage_api(staff, member, api_ids: list[int], now: datetime) -> list[tuple[str, float, str]]:
    from django.test import Client

    from apis.models import Api
    from apis.usage.selectors import api_subscribers

    since = (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    window = f"/api/v1/usage/?granularity=day&since={since}"
    one_api = f"{window}&api=api-{len(api_ids) // 2}"
    subscribed = Api.objects.get(pk=api_ids[len(api_ids) // 2])
    clients = {"staff": Client(HTTP_HOST="127.0.0.1"), "member": Client(HTTP_HOST="127.0.0.1")}
    clients["staff"].force_login(staff)
    clients["member"].force_login(member)
    queries = {
        "usage API p95 30 d, staff": ("staff", window),
        "usage API p95 30 d, staff, 1 API": ("staff", one_api),
        "usage API p95 30 d, a team": ("member", window),
        "usage API p95 30 d, a team, 1 API": ("member", one_api),
        "/metrics p95": ("staff", "/metrics"),
    }
    figures = []
    for name, (who, url) in queries.items():
        figures.append((name, *_p95(partial(_get, clients[who], url))))
    subscribers = _p95(lambda: list(api_subscribers(api=subscribed)))
    figures.append(("subscribers' last calls p95 (100)", *subscribers))
    return figures


def _get(client, url: str) -> None:
    assert client.get(url, HTTP_ACCEPT="application/json").status_code == 200


def _p95(work) -> tuple[float, str]:
    """The 95th percentile of QUERIES runs of `work` in seconds, and their median."""
    took = []
    for _ in range(QUERIES):
        start = time.perf_counter()
        work()
        took.append(time.perf_counter() - start)
    return statistics.quantiles(took, n=20)[18], f"median {statistics.median(took) * 1000:,.0f} ms"


def _drop_stand_in() -> None:
    """A table holding the rows past the retention, dropped: a partition's way out."""
    from django.db import connection

    from apis.usage.services import retention_cutoff

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_expired AS SELECT * FROM apis_usageevent WHERE at < %s",
            [retention_cutoff()],
        )
        start = time.perf_counter()
        cursor.execute("DROP TABLE bench_expired")
    _drop_stand_in.took = time.perf_counter() - start


def _prune() -> int:
    from apis.usage.services import usage_prune

    pruned = 0
    while batch := usage_prune(max_batches=1000):
        pruned += batch
    return pruned


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return getattr(work, "took", time.perf_counter() - start)


def _timed_rate(work) -> tuple[float, str]:
    start = time.perf_counter()
    count = work()
    seconds = time.perf_counter() - start
    return seconds, f"{count:,} rows, {count / seconds:,.0f}/s"


def _show(name: str, seconds: float, detail: str = "") -> None:
    """One step's figures, printed as soon as they are taken: the steps take long at 10 M."""
    print(f"{name:<36} {seconds:>9.3f}  {detail}", flush=True)


if __name__ == "__main__":
    main()
