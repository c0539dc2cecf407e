"""Once warm, the checks before forwarding touch no database, no thread, Redis at most twice."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal

import pytest
import redis.asyncio.connection
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache
from django.test import RequestFactory, override_settings

from apis.gateway.context import GatewayCall
from apis.gateway.pipeline import check
from apis.gateway.view import gateway_request
from keys import revocation
from keys.tokens import verify_access_token
from tests.ai.conftest import provider_on, publish_ai_api
from tests.ai.fakes import FakeProvider
from tests.asgi import AsgiClient, in_a_loop_of_its_own
from tests.factories import SubscriptionFactory
from tests.gateway.conftest import needs_redis
from tests.gateway.reading import body_of
from tests.tokens import token_for


async def _checks(token: str):
    request = RequestFactory().get("/gw/orders/x", HTTP_AUTHORIZATION=f"Bearer {token}")
    call = GatewayCall(gateway_request(request, "orders", "x"), started=0.0)
    return await check(call)


def _checked_context(token: str):
    """The context after the checks, in an event loop of its own."""
    return async_to_sync(_checks)(token)


def _warm_then_checked(token: str, counted: list):
    """A first call warms this loop's caches and connections; the second is counted."""

    async def twice():
        await _checks(token)
        counted.clear()
        return await _checks(token)

    return async_to_sync(twice)()


@pytest.fixture
def token(subscription) -> str:
    return token_for(subscription.application)


@pytest.fixture
def round_trips(monkeypatch):
    """What is sent to Redis: one packed command per round trip, pipelines included."""
    sent: list[bytes] = []
    original = redis.asyncio.connection.AbstractConnection.send_packed_command

    async def counting(self, command, check_health=True):
        sent.append(b"".join(command) if isinstance(command, list) else command)
        return await original(self, command, check_health)

    connection = redis.asyncio.connection.AbstractConnection
    monkeypatch.setattr(connection, "send_packed_command", counting)
    return sent


def test_warm_checks_make_no_database_query(token, subscription, django_assert_num_queries):
    _checked_context(token)

    with django_assert_num_queries(0):
        ctx = _checked_context(token)

    assert ctx.subscription.pk == subscription.pk
    assert ctx.outcome.policies


def test_warm_checks_of_a_cached_api_make_no_database_query(token, api, django_assert_num_queries):
    api.cache_ttl = 30
    api.save()
    _checked_context(token)

    with django_assert_num_queries(0):
        assert _checked_context(token).outcome.cache_status == "MISS"


def _polling_every(seconds: float):
    """The catalog version and the revocation list re-read at most every `seconds`."""
    return override_settings(
        PORTCULLIS={
            **settings.PORTCULLIS,
            "GATEWAY": {"LOOKUP_REFRESH": seconds},
            "KEYS": {**settings.PORTCULLIS["KEYS"], "REVOCATION_POLL_SECONDS": seconds},
        }
    )


# Polls a process makes once per interval, not per call, are kept out of the count by making
# the interval long.
steady = _polling_every(60)


@needs_redis
@steady
@pytest.mark.parametrize("cache_ttl", [0, 30])
def test_warm_checks_make_at_most_two_redis_round_trips(token, api, round_trips, cache_ttl):
    api.cache_ttl = cache_ttl
    api.save()

    _warm_then_checked(token, round_trips)

    assert 1 <= len(round_trips) <= 2


@needs_redis
@steady
def test_cache_hit_costs_no_extra_redis_round_trip(gw, token, api, round_trips):
    api.cache_ttl = 30
    api.save()
    body_of(gw.get("/gw/orders/x"))

    ctx = _warm_then_checked(token, round_trips)

    assert ctx.outcome.cache_status == "HIT"
    assert 1 <= len(round_trips) <= 2


@pytest.mark.parametrize("cache_ttl", [0, 30])
def test_warm_checks_hop_to_no_thread(token, api, thread_hops, cache_ttl):
    api.cache_ttl = cache_ttl
    api.save()
    _checked_context(token)
    assert thread_hops, "a cold call loads the catalog through the ORM, in its thread"

    _warm_then_checked(token, thread_hops)

    assert thread_hops == []


@needs_redis  # on the embedded default the usage event is written through the ORM's thread
def test_a_warm_call_through_the_asgi_application_hops_to_no_thread(gw, thread_hops, upstream):
    gw.get("/gw/orders/x")
    thread_hops.clear()

    response = gw.get("/gw/orders/x")

    assert response.status_code == 200
    assert thread_hops == []


def test_a_saved_plan_is_seen_on_the_next_call(gw, subscription):
    assert gw.get("/gw/orders/x")["RateLimit-Policy"] == '"rate";q=1000;w=60'

    subscription.plan.rate_limit = "5/m"
    subscription.plan.save()

    assert gw.get("/gw/orders/x")["RateLimit-Policy"] == '"rate";q=5;w=60'


@pytest.fixture
def version_reads(round_trips):
    """The reads of the two versions a process polls (revocations, catalog), as they go."""

    def reads() -> list[bytes]:
        keys = (b"revocations:version", b"catalog-version")
        return sorted(key for packed in round_trips for key in keys if key in packed)

    return reads


# Every call finds both polls due: a burst's calls all ask at the same moment.
always_due = _polling_every(0)


@needs_redis
@always_due
def test_a_burst_that_finds_the_polls_due_reads_the_versions_as_often_as_one_call(
    token, api, round_trips, version_reads
):
    async def calls(how_many: int) -> list[bytes]:
        round_trips.clear()
        await asyncio.gather(*(_checks(token) for _ in range(how_many)))
        return version_reads()

    async def one_then_a_burst():
        await _checks(token)
        return await calls(1), await calls(20)

    alone, burst = async_to_sync(one_then_a_burst)()

    assert set(alone) == {b"catalog-version", b"revocations:version"}
    assert burst == alone


@needs_redis
@always_due
def test_a_revocation_is_seen_by_every_call_of_a_burst_sharing_the_poll(token, api):
    jti = verify_access_token(token).jti

    async def burst():
        await _checks(token)
        _revoked_by_another_process(jti)
        return await asyncio.gather(*(_checks(token) for _ in range(20)), return_exceptions=True)

    refusals = async_to_sync(burst)()

    assert [getattr(refusal, "status", None) for refusal in refusals] == [401] * 20
    assert all("revoked" in refusal.detail for refusal in refusals)


def _revoked_by_another_process(jti: str) -> None:
    """What another process's revocation leaves in the shared cache; this one has to poll."""
    cache.set(f"keys:revoked:{jti}", 1, timeout=600)
    cache.set(revocation.VERSION_KEY, uuid.uuid4().hex, timeout=None)


class _Snapshots(list):
    """The provider's requests, each noting how many Redis round trips had been made by then."""

    def __init__(self, counted: list) -> None:
        super().__init__()
        self.counted, self.before = counted, []

    def append(self, item) -> None:
        self.before.append(len(self.counted))
        super().append(item)


@pytest.fixture
def fake_openai(round_trips):
    with FakeProvider("openai") as fake:
        fake.server.requests = _Snapshots(round_trips)
        yield fake


def _chat_api(fake, *, slug: str, **plan) -> tuple[str, str]:
    """A published `ai` API on the fake provider whose plan has these fields; its path and a
    subscribed application's token."""
    api = publish_ai_api(provider_on(fake, f"fake-{slug}"), slug=slug)
    api.plans.update(**plan)
    subscription = SubscriptionFactory(api=api, plan=api.plans.get())
    return f"/gw/{slug}/chat/completions", token_for(subscription.application)


def _warm_chat_round_trips(path: str, token: str, counted: list, fake) -> tuple[int, int]:
    """A warm chat's Redis round trips: before the provider was called, and in all (its usage
    event recorded, its reservation settled)."""
    client = AsgiClient()
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    body = json.dumps({"model": "x", "messages": [{"role": "user", "content": "hi"}]}).encode()

    async def twice():
        await client._send("POST", path, headers, body)
        counted.clear()
        answer = await client._send("POST", path, headers, body)
        assert answer.status_code == 200
        return fake.requests.before[-1], len(counted)

    return in_a_loop_of_its_own(twice)


@needs_redis
@steady
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "plan",
    [{"monthly_budget": Decimal(1000), "max_output_tokens": 100}, {"token_quota": 10_000_000}],
    ids=["money budget", "token quota"],
)
def test_a_budgeted_ai_call_makes_no_more_redis_round_trips_than_an_unbudgeted_one(
    fake_openai, round_trips, plan
):
    free = _chat_api(fake_openai, slug="free")
    held = _chat_api(fake_openai, slug="held", **plan)

    free_before, free_total = _warm_chat_round_trips(*free, round_trips, fake_openai)
    held_before, held_total = _warm_chat_round_trips(*held, round_trips, fake_openai)

    assert 1 <= held_before <= 2
    assert held_before == free_before
    assert held_total == free_total
