"""GET /metrics: usage totals per API in Prometheus' text format, to scrapers allowed in."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from apis.usage.histogram import ERROR_BOUND, bucket
from apis.usage.services import usage_events_store, usage_rollup
from tests.factories import ApiFactory
from tests.problems import assert_problem
from tests.usage.conftest import record

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
