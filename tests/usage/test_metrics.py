"""GET /metrics: usage totals per API in Prometheus' text format, to scrapers allowed in."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from apis.usage.histogram import ERROR_BOUND, bucket, percentile
from apis.usage.models import UsageEvent
from apis.usage.services import period_start, usage_events_store, usage_prune, usage_rollup
from tests.factories import ApiFactory, ApplicationFactory
from tests.problems import assert_problem
from tests.usage.conftest import NOON, record

pytestmark = pytest.mark.django_db

LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}
ELSEWHERE = {"REMOTE_ADDR": "203.0.113.9"}


def samples(response) -> dict[tuple[str, tuple], float]:
    """Every sample of the exposition, parsed by Prometheus' own client, by name and labels."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_totals_per_api_follow_the_rolled_up_calls(api, alice_app, bob_app):
    usage_events_store(
        entries=[
            ("1-0", record(api, alice_app, status=200, prompt_tokens=7, cost=Decimal("0.5"))),
            ("2-0", record(api, alice_app, status=503)),
            ("3-0", record(api, bob_app, status=429)),
        ]
    )
    usage_rollup()

    seen = samples(Client(**LOOPBACK).get("/metrics"))

    weather = (("api", "weather"),)
    assert seen[("portcullis_requests_total", weather)] == 3
    assert seen[("portcullis_request_errors_total", weather)] == 2
    assert seen[("portcullis_ai_prompt_tokens_total", weather)] == 7
    assert seen[("portcullis_ai_cost_usd_total", weather)] == 0.5
    assert seen[("portcullis_usage_events_pending_rollup", ())] == 0


def test_latency_quantiles_per_api_add_up_the_last_days_histograms(api, alice_app, bob_app):
    now = timezone.now()
    quick = [(f"q{ms}", record(api, alice_app, at=now, latency_ms=ms)) for ms in range(1, 91)]
    slow = [(f"s{n}", record(api, bob_app, at=now, latency_ms=1000)) for n in range(10)]
    old = [("old", record(api, alice_app, at=now - timedelta(days=2), latency_ms=5000))]
    usage_events_store(entries=quick + slow + old)
    usage_rollup()

    seen = samples(Client(**LOOPBACK).get("/metrics"))

    name = "portcullis_request_latency_ms"
    quantiles = {
        quantile: seen[(name, (("api", "weather"), ("quantile", quantile)))]
        for quantile in ("0.5", "0.95", "0.99")
    }
    assert quantiles == {"0.5": 50, "0.95": bucket(1000), "0.99": bucket(1000)}
    assert abs(bucket(1000) - 1000) <= ERROR_BOUND * 1000


def test_catalog_and_subscriptions_are_gauges_by_state(api):
    ApiFactory(slug="draft")

    seen = samples(Client(**LOOPBACK).get("/metrics"))

    assert seen[("portcullis_apis", (("state", "published"),))] == 1
    assert seen[("portcullis_apis", (("state", "design"),))] == 1


def test_callers_from_elsewhere_are_refused(api):
    assert_problem(Client(**ELSEWHERE).get("/metrics"), 403)


def test_a_loopback_call_forwarded_by_a_proxy_is_refused(api):
    forwarded = Client(**LOOPBACK).get("/metrics", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert_problem(forwarded, 403)


def test_the_metrics_token_opens_them_from_anywhere_and_a_wrong_one_does_not(api, settings):
    portcullis = {**settings.PORTCULLIS, "PORTAL": {"METRICS_TOKEN": "scrape-s3cret"}}
    with override_settings(PORTCULLIS=portcullis):
        right = Client(**ELSEWHERE).get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-s3cret")
        wrong = Client(**LOOPBACK).get("/metrics", HTTP_AUTHORIZATION="Bearer guess")

    assert samples(right)
    assert_problem(wrong, 403)


def test_guessing_the_metrics_token_is_throttled_per_address(api, settings):
    portal = {"METRICS_TOKEN": "scrape-s3cret", "METRICS_TOKEN_RATE": "3/h"}
    with override_settings(PORTCULLIS={**settings.PORTCULLIS, "PORTAL": portal}):
        guesser, scraper = Client(**ELSEWHERE), Client(REMOTE_ADDR="198.51.100.99")
        guesses = [
            guesser.get("/metrics", HTTP_AUTHORIZATION=f"Bearer guess-{n}").status_code
            for n in range(3)
        ]
        right_from_guesser = guesser.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-s3cret")
        right_elsewhere = scraper.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-s3cret")

    assert guesses == [403, 403, 403]
    assert right_from_guesser.status_code == 429 and right_from_guesser["Retry-After"]
    assert samples(right_elsewhere)


def test_staff_may_read_them_from_anywhere(api, staff):
    client = Client(**ELSEWHERE)
    client.force_login(staff)

    assert samples(client.get("/metrics"))


def test_estimated_and_cached_tokens_are_shown_apart(api, alice_app):
    usage_events_store(
        entries=[
            ("1-0", record(api, alice_app, prompt_tokens=10, completion_tokens=5, estimated=True)),
            ("2-0", record(api, alice_app, prompt_tokens=20, cache_read_tokens=8)),
        ]
    )
    usage_rollup()

    seen = samples(Client(**LOOPBACK).get("/metrics"))

    weather = (("api", "weather"),)
    assert seen[("portcullis_ai_prompt_tokens_total", weather)] == 30
    assert seen[("portcullis_ai_estimated_tokens_total", weather)] == 15
    assert seen[("portcullis_ai_cache_read_tokens_total", weather)] == 8


SMALL_BATCHES = {"USAGE": {"ROLLUP_BATCH_SIZE": 7}}
COUNTERS = {
    "portcullis_requests_total": lambda r: 1,
    "portcullis_request_errors_total": lambda r: int(r.status >= 400),
    "portcullis_ai_prompt_tokens_total": lambda r: r.prompt_tokens,
    "portcullis_ai_completion_tokens_total": lambda r: r.completion_tokens,
    "portcullis_ai_estimated_tokens_total": lambda r: (
        r.prompt_tokens + r.completion_tokens if r.estimated else 0
    ),
    "portcullis_request_bytes_total": lambda r: r.bytes_in,
    "portcullis_response_bytes_total": lambda r: r.bytes_out,
    "portcullis_ai_cost_usd_total": lambda r: r.cost,
}


def calls(api, applications, count: int, *, at, prefix: str) -> list:
    """`count` varied calls of the applications in turn, all at `at`."""
    return [
        (
            f"{prefix}{n}",
            record(
                api,
                applications[n % len(applications)],
                at=at,
                status=(200, 201, 404, 503)[n % 4],
                latency_ms=n * 37 % 900,
                bytes_in=n,
                bytes_out=10 * n,
                prompt_tokens=n % 5,
                completion_tokens=n % 3,
                estimated=n % 6 == 0,
                cost=Decimal(n) / 1000,
            ),
        )
        for n in range(count)
    ]


def totals(seen, api_slug: str) -> dict[str, float]:
    return {name: seen[(name, (("api", api_slug),))] for name in COUNTERS}


def test_counters_are_what_the_events_said_after_batches_late_events_and_pruning(
    api, alice_app, bob_app
):
    on_time = calls(api, [alice_app, bob_app], 30, at=NOON, prefix="t")
    late = calls(api, [bob_app], 5, at=NOON - timedelta(days=1), prefix="l")
    with override_settings(PORTCULLIS=SMALL_BATCHES):
        usage_events_store(entries=on_time)
        usage_rollup()
        usage_events_store(entries=late)
        usage_rollup()
    # Every event past the retention, pruned; then an application deleted with its rollups.
    pruned = usage_prune(now=timezone.now() + timedelta(days=60))
    bob_app.delete()

    seen = samples(Client(**LOOPBACK).get("/metrics"))

    assert pruned == 35 and not UsageEvent.objects.exists()
    expected = {
        name: float(sum(count(r) for _, r in on_time + late)) for name, count in COUNTERS.items()
    }
    assert totals(seen, "weather") == expected
    assert expected["portcullis_requests_total"] == 35
    assert expected["portcullis_request_errors_total"] == 16


def test_latency_gauge_is_the_histogram_of_the_last_24_hours_calls(api, alice_app, bob_app):
    this_hour = period_start(timezone.now(), "hour")
    three = [alice_app, bob_app, ApplicationFactory()]
    entries = []
    for hours_ago in range(0, 30, 3):
        at = this_hour - timedelta(hours=hours_ago) + timedelta(minutes=30)
        entries += calls(api, three, 9, at=at, prefix=f"h{hours_ago}-")
    with override_settings(PORTCULLIS=SMALL_BATCHES):
        usage_events_store(entries=entries)
        usage_rollup()

    seen = samples(Client(**LOOPBACK).get("/metrics"))

    last_day = Counter(
        str(bucket(r.latency_ms)) for _, r in entries if r.at >= this_hour - timedelta(hours=23)
    )
    assert sum(last_day.values()) == 8 * 9
    name = "portcullis_request_latency_ms"
    for rank in (50, 95, 99):
        labels = (("api", "weather"), ("quantile", str(rank / 100)))
        assert seen[(name, labels)] == percentile(last_day, rank)


needs_statistics = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="needs PostgreSQL: the rows a scrape reads are counted from its statistics views",
)
USAGE_TABLES = ("apis_usageevent", "apis_usagerollup", "apis_apiusagetotal", "apis_apilatencyhour")


def rows_read() -> int:
    """Rows of the usage tables read so far in this transaction, by any kind of scan."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(seq_tup_read + coalesce(idx_tup_fetch, 0)) FROM pg_stat_xact_user_tables"
            " WHERE relname = ANY(%s)",
            [list(USAGE_TABLES)],
        )
        return int(cursor.fetchone()[0] or 0)


def scrape_cost() -> tuple[int, int]:
    """Queries made and usage rows read by one scrape."""
    before = rows_read()
    with CaptureQueriesContext(connection) as queries:
        samples(Client(**LOOPBACK).get("/metrics"))
    return len(queries), rows_read() - before


@needs_statistics
def test_a_scrape_reads_as_much_whatever_the_applications_and_days_kept(api, alice_app):
    # Index scans, as the planner chooses on tables of millions of rows, not whole small ones.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    now = timezone.now()
    usage_events_store(entries=calls(api, [alice_app], 8, at=now, prefix="a"))
    usage_rollup()
    small = scrape_cost()

    applications = [ApplicationFactory() for _ in range(12)]
    for days in range(14):
        at = now - timedelta(days=days)
        usage_events_store(entries=calls(api, applications, 24, at=at, prefix=f"d{days}-"))
    usage_rollup()
    large = scrape_cost()

    assert large == small
