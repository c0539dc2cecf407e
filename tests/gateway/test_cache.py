"""Cached answers: who may receive them, what is never stored, and X-Cache."""

from __future__ import annotations

import time

import pytest

from tests.asgi import AsgiClient
from tests.factories import ApplicationFactory, SubscriptionFactory
from tests.gateway.reading import body_of, json_of
from tests.tokens import token_for


@pytest.fixture
def cached_api(api):
    api.cache_ttl = 60
    api.save()
    return api


def _client_of_another_application(api, subscription) -> AsgiClient:
    other = SubscriptionFactory(application=ApplicationFactory(), api=api, plan=subscription.plan)
    client = AsgiClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(other.application)}")
    return client


def test_second_get_is_served_from_cache(gw, cached_api, upstream):
    first = gw.get("/gw/orders/headers?X-Kind=fresh")
    first_body = json_of(first)
    second = gw.get("/gw/orders/headers?X-Kind=fresh")

    assert first["X-Cache"] == "MISS"
    assert "Age" not in first
    assert second["X-Cache"] == "HIT"
    assert int(second["Age"]) in (0, 1)
    assert json_of(second) == first_body
    assert second["X-Kind"] == "fresh"
    assert upstream.hits["/base/headers?X-Kind=fresh"] == 1


def test_cache_key_includes_the_query(gw, cached_api, upstream):
    body_of(gw.get("/gw/orders/headers?page=1"))

    assert gw.get("/gw/orders/headers?page=2")["X-Cache"] == "MISS"


def test_an_application_never_receives_another_applications_cached_answer(
    gw, cached_api, subscription, upstream
):
    other = _client_of_another_application(cached_api, subscription)
    body_of(gw.get("/gw/orders/headers"))

    response = other.get("/gw/orders/headers")

    assert response["X-Cache"] == "MISS"
    assert upstream.hits["/base/headers"] == 2


def test_public_api_shares_cached_answers_between_applications(
    gw, cached_api, subscription, upstream
):
    cached_api.public_cache = True
    cached_api.save()
    other = _client_of_another_application(cached_api, subscription)
    body_of(gw.get("/gw/orders/headers"))

    assert other.get("/gw/orders/headers")["X-Cache"] == "HIT"
    assert upstream.hits["/base/headers"] == 1


@pytest.mark.parametrize(
    "directive", ["no-store", "private", "private, max-age=60", "no-cache", "max-age=0"]
)
def test_upstream_no_store_or_private_is_not_cached(gw, cached_api, upstream, directive):
    url = f"/gw/orders/headers?Cache-Control={directive}"
    body_of(gw.get(url))

    assert gw.get(url)["X-Cache"] == "MISS"
    assert sum(upstream.hits.values()) == 2


def test_post_is_never_cached(gw, cached_api, upstream):
    for _ in range(2):
        response = gw.post("/gw/orders/headers", data=b"{}", content_type="application/json")
        body_of(response)

    assert "X-Cache" not in response
    assert upstream.hits["/base/headers"] == 2


def test_error_answers_are_not_cached(gw, cached_api, upstream):
    body_of(gw.get("/gw/orders/status/500"))

    assert gw.get("/gw/orders/status/500")["X-Cache"] == "MISS"


def test_api_without_cache_ttl_does_not_cache(gw, upstream):
    body_of(gw.get("/gw/orders/headers"))

    assert "X-Cache" not in gw.get("/gw/orders/headers")
    assert upstream.hits["/base/headers"] == 2


def test_a_hit_says_how_long_ago_the_upstream_gave_the_answer(gw, cached_api, manual_clock):
    body_of(gw.get("/gw/orders/headers"))

    manual_clock.advance(7)

    assert gw.get("/gw/orders/headers")["Age"] == "7"


def test_clients_accepting_other_encodings_do_not_share_an_answer(gw, cached_api, upstream):
    body_of(gw.get("/gw/orders/headers?Vary=Accept-Encoding", HTTP_ACCEPT_ENCODING="gzip"))

    plain = gw.get("/gw/orders/headers?Vary=Accept-Encoding", HTTP_ACCEPT_ENCODING="identity")
    gzip_again = gw.get("/gw/orders/headers?Vary=Accept-Encoding", HTTP_ACCEPT_ENCODING="gzip")

    assert (plain["X-Cache"], gzip_again["X-Cache"]) == ("MISS", "HIT")


@pytest.mark.parametrize("vary", ["Accept-Language", "*", "Accept-Encoding,Cookie"])
def test_answers_varying_on_other_request_headers_are_not_cached(gw, cached_api, upstream, vary):
    url = f"/gw/orders/headers?Vary={vary}"
    body_of(gw.get(url))

    assert gw.get(url)["X-Cache"] == "MISS"


def test_a_shorter_upstream_max_age_wins_over_the_apis_ttl(gw, cached_api, upstream):
    url = "/gw/orders/headers?Cache-Control=max-age=1"
    body_of(gw.get(url))
    assert gw.get(url)["X-Cache"] == "HIT"

    time.sleep(1.5)  # past the upstream's max-age, far inside the API's 60 s

    assert gw.get(url)["X-Cache"] == "MISS"


def test_a_client_asking_for_no_cache_gets_a_fresh_answer_that_is_stored(gw, cached_api, upstream):
    body_of(gw.get("/gw/orders/headers"))

    fresh = gw.get("/gw/orders/headers", HTTP_CACHE_CONTROL="no-cache")
    body_of(fresh)
    after = gw.get("/gw/orders/headers")

    assert (fresh["X-Cache"], after["X-Cache"]) == ("MISS", "HIT")
    assert json_of(after)["hits"] == 2  # the fresh answer replaced the first one
    assert upstream.hits["/base/headers"] == 2


def test_a_client_asking_for_no_store_leaves_nothing_in_the_cache(gw, cached_api, upstream):
    body_of(gw.get("/gw/orders/headers", HTTP_CACHE_CONTROL="no-store"))

    assert gw.get("/gw/orders/headers")["X-Cache"] == "MISS"
