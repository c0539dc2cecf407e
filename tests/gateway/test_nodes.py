"""Two gateway nodes (separate processes on their own ports) sharing PostgreSQL and Redis.

Each test runs on one plain Redis and again on a Redis Cluster started for the module. Nothing
stands in front of the nodes: the test calls each one itself. What one node or the control
plane changes — the catalog, a revocation, a circuit, a budget and its spend — the other node
acts on within a second.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from decimal import Decimal

import httpx
import pytest
from django.core.cache import cache

from apis.ai.services import provider_save
from apis.services import api_transition
from core.redis_clients import is_cluster
from keys.tokens import revoke_access_token, verify_access_token
from tests.ai.conftest import PROVIDER_KEY, publish_ai_api
from tests.ai.fakes import FakeProvider
from tests.factories import ApplicationFactory, SubscriptionFactory
from tests.gateway.balancing import balance
from tests.gateway.conftest import needs_postgres, needs_redis
from tests.servers import GatewayServer, RedisClusterServers
from tests.tokens import token_for

pytestmark = [needs_postgres, needs_redis, pytest.mark.django_db(transaction=True)]

# How long a node may go on serving what it knew: the catalog's refresh, one second. Each test
# waits that long after a change, then asks each node once: a node slower to see it fails.
PROPAGATION_SECONDS = 1.0


@pytest.fixture(scope="module", params=["redis", "redis-cluster"])
def shared_redis(request):
    """The environment that points a node at the shared Redis, or at a Redis Cluster."""
    if request.param == "redis":
        yield {"REDIS_URL": os.environ["REDIS_URL"]}
        return
    with RedisClusterServers() as cluster:
        yield {"REDIS_URL": cluster.url, "CELERY_BROKER_URL": os.environ["REDIS_URL"]}


@pytest.fixture
def nodes(shared_redis, settings):
    """Two nodes on the shared Redis, which this process writes its changes to as well."""
    url = shared_redis["REDIS_URL"]
    if is_cluster(url):
        backend = "core.cluster_cache.RedisClusterCache"
        settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": url, "KEY_PREFIX": "pc"}}
        settings.REDIS_URL = url
        cache.clear()
    with ExitStack() as stack:
        yield [stack.enter_context(GatewayServer(env=shared_redis)) for _ in range(2)]


def answers(nodes, token: str, each: int = 3) -> list[httpx.Response]:
    """`each` calls to /gw/orders/x on every node, in turn."""
    headers = {"Authorization": f"Bearer {token}"}
    url = "/gw/orders/x"
    return [httpx.get(f"{node.url}{url}", headers=headers) for node in nodes for _ in range(each)]


def statuses(nodes, token: str, each: int = 3) -> set[int]:
    return {answer.status_code for answer in answers(nodes, token, each)}


def test_a_catalog_change_is_seen_by_both_nodes(nodes, subscription):
    token = token_for(subscription.application)
    assert not any("Deprecation" in answer.headers for answer in answers(nodes, token))

    api_transition(api=subscription.api, to="deprecated", actor=None)
    time.sleep(PROPAGATION_SECONDS)

    assert {_deprecated(answer) for answer in answers(nodes, token)} == {(200, True)}


def test_a_revocation_is_seen_by_both_nodes(nodes, subscription):
    token = token_for(subscription.application)
    assert statuses(nodes, token) == {200}

    revoke_access_token(verify_access_token(token))
    time.sleep(PROPAGATION_SECONDS)

    assert statuses(nodes, token) == {401}


def _deprecated(answer: httpx.Response) -> tuple[int, bool]:
    return answer.status_code, "Deprecation" in answer.headers


def test_a_circuit_opened_on_one_node_keeps_the_other_off_the_target(nodes, subscription, upstream):
    failing = f"{upstream.url}/status/503"
    balance(subscription.api, (upstream.url, 1), (failing, 1), circuit_cool_down=60)
    token = token_for(subscription.application)
    first, second = nodes
    time.sleep(PROPAGATION_SECONDS)  # both nodes know the targets
    seen_by_first = statuses([first], token, each=4)
    failures = upstream.hits["/status/503/x"]

    seen_by_second = statuses([second], token, each=6)

    assert seen_by_first == {200, 503}
    assert failures == 2
    assert seen_by_second == {200}
    assert upstream.hits["/status/503/x"] == 2


@pytest.fixture
def chat_subscription(db, alice):
    """A subscription to an `ai` API on a fake OpenAI provider, which prices a call of HELLO
    with max_tokens=7 at $0.000078 (11 tokens in at $2, 7 out at $8 per million)."""
    with FakeProvider("openai") as fake:
        provider = provider_save(
            name="fake-openai",
            kind=fake.flavour,
            base_url=fake.base_url,
            api_key=PROVIDER_KEY,
            models=[{"name": "ok-model", "input_cost_per_mtok": "2", "output_cost_per_mtok": "8"}],
        )
        api = publish_ai_api(provider)
        application = ApplicationFactory(owner=alice)
        yield SubscriptionFactory(application=application, api=api, plan=api.plans.get()), fake


HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]


def test_a_budget_set_and_spent_through_one_node_holds_on_the_other(nodes, chat_subscription):
    subscription, fake = chat_subscription
    headers = {"Authorization": f"Bearer {token_for(subscription.application)}"}
    body = {"model": "x", "messages": HELLO, "max_tokens": 7}

    def chat(node) -> httpx.Response:
        return httpx.post(f"{node.url}/gw/chat/chat/completions", headers=headers, json=body)

    first, second = nodes
    assert [chat(node).status_code for node in nodes] == [200, 200]  # no budget yet

    subscription.application.monthly_budget = Decimal("0.0002")  # two calls' worth
    subscription.application.save()
    time.sleep(PROPAGATION_SECONDS)

    assert [chat(first).status_code for _ in range(2)] == [200, 200]
    refused_by_second, refused_by_first = chat(second), chat(first)

    for refused in (refused_by_second, refused_by_first):
        assert refused.status_code == 429
        message = refused.json()["error"]["message"]
        assert "the application's monthly budget of $0.0002" in message
        assert "($0.000156 spent or reserved)" in message
    assert len(fake.requests) == 4
