"""The shared state on a real Redis Cluster: three primaries with a replica each, on loopback.

The cluster is started once for the module, on free ports, and stopped at its end; each test
points the cache and the data plane at it and empties it first.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import partial

import httpx
import pytest
from django.core.cache import cache

from apis.ai import spend
from apis.ai.models import Deployment
from apis.catalog_cache import bump_catalog_version
from apis.gateway.circuits import OPEN, circuits_of
from apis.gateway.limit import spend_keys
from apis.mcp import sessions
from apis.models import Api, Subscription
from apis.usage.conf import usage_settings
from apis.usage.models import UsageEvent
from apis.usage.services import usage_ingest
from core.shared import raw_key
from keys.tokens import revoke_access_token, verify_access_token
from tests.ai.conftest import provider_on, publish_ai_api
from tests.ai.fakes import FakeProvider
from tests.asgi import AsgiClient, in_a_loop_of_its_own
from tests.factories import ApplicationFactory, SubscriptionFactory
from tests.gateway.balancing import balance, dead_url
from tests.gateway.conftest import needs_postgres
from tests.servers import GatewayServer, RedisClusterServers
from tests.tokens import token_for

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs redis-server to start a cluster"
)


@pytest.fixture(scope="module")
def cluster():
    with RedisClusterServers() as servers:
        yield servers


@pytest.fixture
def on_cluster(cluster, settings):
    """The cache, counters, revocations and usage stream of this test live on the cluster."""
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cluster_cache.RedisClusterCache",
            "LOCATION": cluster.url,
            "KEY_PREFIX": "pc",
        }
    }
    settings.REDIS_URL = cluster.url
    cache.clear()
    bump_catalog_version()
    return cluster


def _plan(subscription, **fields) -> None:
    for name, value in fields.items():
        setattr(subscription.plan, name, value)
    subscription.plan.save()


def test_the_rate_limit_is_exact_on_a_cluster(on_cluster, gw, subscription):
    _plan(subscription, rate_limit="4/h", monthly_quota=5)

    statuses = [gw.get("/gw/orders/x").status_code for _ in range(6)]

    assert statuses == [200] * 4 + [429] * 2


def test_the_monthly_quota_is_exact_on_a_cluster(on_cluster, gw, subscription):
    _plan(subscription, rate_limit="100/h", monthly_quota=3)

    statuses = [gw.get("/gw/orders/x").status_code for _ in range(5)]

    assert statuses == [200] * 3 + [429] * 2
    assert gw.get("/gw/orders/x")["RateLimit"].count('"monthly";r=0;') == 1


@pytest.fixture
def fake_openai():
    with FakeProvider("openai") as fake:
        yield fake


def chat_caller(fake, alice, **fields):
    """A client of an `ai` API on the fake provider, subscribed, and the API."""
    provider = provider_on(fake)
    api = publish_ai_api(provider, **fields)
    application = ApplicationFactory(owner=alice)
    SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    client = AsgiClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(application)}")
    return client, api, provider


CHAT = {"model": "x", "messages": [{"role": "user", "content": "Say hello"}]}


def test_deployments_limits_and_cooldowns_hold_on_a_cluster(
    on_cluster, fake_openai, alice, manual_clock
):
    # The deployments' admission and minute scripts take three keys each: one slot or CROSSSLOT.
    # The clock is held still: the four calls must share one minute of the rpm window.
    client, api, provider = chat_caller(fake_openai, alice, routing=Api.Routing.LEAST_BUSY)
    for name, model, rpm in (("a-hot", "error-429", 0), ("b-small", "ok-model", 2)):
        Deployment.objects.create(api=api, name=name, provider=provider, model=model, rpm=rpm)
    Deployment.objects.create(api=api, name="c-tpm", provider=provider, model="ok-model", tpm=100)
    bump_catalog_version()

    body = {**CHAT, "max_tokens": 7}
    answers = [client.post("/gw/chat/chat/completions", body) for _ in range(4)]

    assert [a.status_code for a in answers] == [200] * 4
    assert [a["X-Model"] for a in answers] == ["b-small", "b-small", "c-tpm", "c-tpm"]
    assert [body["model"] for _, _, body in fake_openai.requests].count("error-429") == 1


def test_ai_answers_are_cached_on_a_cluster(on_cluster, fake_openai, alice):
    client, _, _ = chat_caller(fake_openai, alice, cache_ttl=60)

    first, second = (client.post("/gw/chat/chat/completions", CHAT) for _ in range(2))

    assert (first["X-Cache"], second["X-Cache"]) == ("MISS", "HIT")
    assert second.content == first.content
    assert len(fake_openai.requests) == 1


def test_a_revoked_token_is_refused_on_a_cluster(on_cluster, gw, subscription):
    token = token_for(subscription.application)
    assert gw.get("/gw/orders/x", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200

    revoke_access_token(verify_access_token(token))

    assert gw.get("/gw/orders/x", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_answers_are_cached_on_a_cluster(on_cluster, gw, api, upstream):
    api.cache_ttl = 60
    api.save()

    first, second = gw.get("/gw/orders/cached"), gw.get("/gw/orders/cached")

    assert (first.status_code, second.status_code) == (200, 200)
    assert second["X-Cache"] == "HIT"
    assert upstream.hits["/base/cached"] == 1


def test_usage_events_travel_the_stream_on_a_cluster(on_cluster, gw):
    for _ in range(3):
        gw.get("/gw/orders/x")

    ingested = usage_ingest()

    assert ingested == 3
    assert UsageEvent.objects.count() == 3


def test_mcp_sessions_live_on_a_cluster(on_cluster, application):
    def session_for(session_id: str):
        lookup = partial(sessions.session_for, session_id, application_id=application.pk)
        return in_a_loop_of_its_own(lookup)

    start = partial(
        sessions.session_start, application_id=application.pk, protocol_version="2025-06-18"
    )
    session = in_a_loop_of_its_own(start)
    key = raw_key(f"mcp:session:{session.id}")
    stored = on_cluster.cli(on_cluster.master_of(key), "exists", key).strip()
    found = session_for(session.id)
    in_a_loop_of_its_own(sessions.session_end, session)

    assert stored == "1"
    assert found == session
    assert session_for(session.id) is None


def test_a_circuit_opens_for_everyone_on_a_cluster(on_cluster, gw, api, upstream):
    _, dead = balance(api, (upstream.url, 1), (dead_url(), 1))

    statuses = [gw.get("/gw/orders/x").status_code for _ in range(4)]

    assert statuses == [200] * 4
    assert circuits_of([dead])[dead.pk].state == OPEN


class Load:
    """Threads calling the gateway until told to stop; every status kept, in order."""

    def __init__(self, url: str, headers: dict[str, str], threads: int = 6) -> None:
        self.url, self.headers = url, headers
        self.statuses: list[int] = []
        self.stop = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=threads)
        self.futures = [self.pool.submit(self._run) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(headers=self.headers, timeout=30) as client:
            while not self.stop.is_set():
                self.statuses.append(client.get(self.url).status_code)

    def wait_for(self, answered: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.statuses) < answered and time.monotonic() < deadline:
            time.sleep(0.01)

    def finish(self) -> Counter:
        self.stop.set()
        for future in self.futures:
            future.result()
        self.pool.shutdown()
        return Counter(self.statuses)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_limits_stay_exact_through_a_failover_under_load(on_cluster, subscription):
    limit = 250
    _plan(subscription, rate_limit=f"{limit}/h")
    env = {"REDIS_URL": on_cluster.url, "CELERY_BROKER_URL": os.environ.get("REDIS_URL", "")}
    headers = {"Authorization": f"Bearer {token_for(subscription.application)}"}
    tag = f"{{app:{subscription.application_id}}}"
    replica = on_cluster.replica_of(on_cluster.master_of(tag))

    with GatewayServer(env=env, workers=2) as gateway:
        load = Load(f"{gateway.url}/gw/orders/x", headers)
        load.wait_for(50)
        on_cluster.cli(replica, "cluster", "failover")
        deadline = time.monotonic() + 30
        while on_cluster.master_of(tag) != replica and time.monotonic() < deadline:
            time.sleep(0.05)
        after_failover = len(load.statuses)
        load.wait_for(max(after_failover + 100, limit + 50))
        statuses = load.finish()

    assert on_cluster.master_of(tag) == replica
    assert sum(statuses.values()) - after_failover >= 100
    assert statuses == {200: limit, 429: sum(statuses.values()) - limit}


def _subscribed_apart_from_the_stream(api, cluster) -> str:
    """A token of an application subscribed to `api` whose counters live on another primary
    than the usage stream: its settlement and its usage event go to two nodes."""
    stream = cluster.master_of(usage_settings.STREAM)
    while True:
        application = ApplicationFactory()
        if cluster.master_of(f"{{app:{application.pk}}}") != stream:
            SubscriptionFactory(application=application, api=api, plan=api.plans.get())
            return token_for(application)


@pytest.mark.django_db(transaction=True)
def test_budgets_reserve_and_settle_on_a_cluster(on_cluster):
    with FakeProvider("openai") as fake:
        api = publish_ai_api(provider_on(fake))
        # Two calls of $0.000078 fit, a third does not.
        api.plans.update(monthly_budget=Decimal("0.0002"))
        client = AsgiClient()
        client.credentials(
            HTTP_AUTHORIZATION=f"Bearer {_subscribed_apart_from_the_stream(api, on_cluster)}"
        )
        body = {
            "model": "x",
            "messages": [{"role": "user", "content": "Say hello"}],
            "max_tokens": 7,
        }
        statuses = [client.post("/gw/chat/chat/completions", body).status_code for _ in range(3)]

    subscription = Subscription.objects.get()
    assert statuses == [200, 200, 429]
    assert len(fake.requests) == 2
    assert usage_ingest() == 3
    costs = UsageEvent.objects.filter(status=200).values_list("cost", flat=True)
    keys = spend_keys(subscription)
    assert [cache.get(key) for key in keys[:2]] == [spend.nanos(sum(costs, Decimal(0)))] * 2
