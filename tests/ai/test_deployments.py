"""One model served by several deployments: routing, cooldown shared by processes, rpm."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

import httpx
import openai
import pytest

from apis.ai import routing
from apis.ai.models import Deployment, Provider
from apis.ai.targets import Target
from apis.models import Api
from tests.ai.conftest import accounted_event, client_for, publish_ai_api
from tests.factories import ApplicationFactory, SubscriptionFactory
from tests.gateway.conftest import needs_postgres, needs_redis
from tests.servers import GatewayServer
from tests.tokens import token_for

HELLO = [{"role": "user", "content": "Say hello"}]
one_kind = pytest.mark.parametrize("kind", ["openai"])


def deployed(provider, *deployments: tuple[str, str, dict], **fields) -> Api:
    """An `ai` API whose model is served by these (name, model, fields) deployments."""
    api = publish_ai_api(provider, **fields)
    api.routing = Api.Routing.LEAST_BUSY
    api.save()
    for name, model, extra in deployments:
        Deployment.objects.create(api=api, name=name, provider=provider, model=model, **extra)
    return api


def models_sent(fake) -> list[str]:
    return [body["model"] for _path, _headers, body in fake.requests]


@one_kind
def test_a_deployment_answering_429_is_cooled_down_and_the_next_answers(
    provider, fake, live_server, alice
):
    api = deployed(provider, ("a-hot", "error-429", {}), ("b-calm", "ok-model", {}))
    sdk = client_for(api, live_server, alice)

    first = sdk.chat.completions.with_raw_response.create(model="x", messages=HELLO)
    second = sdk.chat.completions.with_raw_response.create(model="x", messages=HELLO)

    assert first.headers["X-Model"] == second.headers["X-Model"] == "b-calm"
    # The second call never went to the deployment cooling down.
    assert models_sent(fake) == ["error-429", "ok-model", "ok-model"]
    assert accounted_event().model == "b-calm"


@one_kind
def test_fallbacks_follow_when_every_deployment_cools_down(provider, fake, live_server, alice):
    api = deployed(provider, ("only", "error-503", {}), fallbacks=[f"{provider.name}/tool-model"])
    sdk = client_for(api, live_server, alice)

    for _ in range(2):
        answer = sdk.chat.completions.with_raw_response.create(model="x", messages=HELLO)
        assert answer.headers["X-Model"] == f"{provider.name}/tool-model"

    assert models_sent(fake) == ["error-503", "tool-model", "tool-model"]


@one_kind
def test_with_nothing_left_to_call_the_answer_is_503_with_retry_after(
    provider, fake, live_server, alice
):
    api = deployed(provider, ("only", "error-500", {}))
    sdk = client_for(api, live_server, alice)
    with pytest.raises(openai.InternalServerError):
        sdk.chat.completions.create(model="x", messages=HELLO)

    with pytest.raises(openai.APIStatusError) as raised:
        sdk.chat.completions.create(model="x", messages=HELLO)

    assert raised.value.status_code == 503
    assert raised.value.response.headers["Retry-After"] == "30"
    assert len(fake.requests) == 1


@one_kind
def test_a_deployment_that_times_out_is_cooled_down_and_the_next_answers(
    provider, fake, live_server, alice
):
    api = deployed(provider, ("a-slow", "slow", {}), ("b-calm", "ok-model", {}), timeout=1)
    sdk = client_for(api, live_server, alice)

    labels = [
        sdk.chat.completions.with_raw_response.create(model="x", messages=HELLO).headers["X-Model"]
        for _ in range(2)
    ]

    assert labels == ["b-calm", "b-calm"]
    assert models_sent(fake) == ["slow", "ok-model", "ok-model"]


@one_kind
def test_least_busy_routing_sends_calls_past_a_deployment_with_a_call_in_flight(
    provider, fake, live_server, alice
):
    # a-slow is first while both are idle; its call takes two seconds.
    api = deployed(provider, ("a-slow", "slow", {}), ("b-quick", "ok-model", {}))
    sdk = client_for(api, live_server, alice)
    create = sdk.chat.completions.with_raw_response.create
    held: list[str] = []
    holding = threading.Thread(
        target=lambda: held.append(create(model="x", messages=HELLO).headers["X-Model"])
    )
    holding.start()
    deadline = time.monotonic() + 5
    while not fake.requests and time.monotonic() < deadline:
        time.sleep(0.01)

    labels = [create(model="x", messages=HELLO).headers["X-Model"] for _ in range(3)]
    holding.join()

    assert held == ["a-slow"]
    assert labels == ["b-quick"] * 3
    assert models_sent(fake) == ["slow", "ok-model", "ok-model", "ok-model"]


@one_kind
def test_a_deployment_at_its_declared_rpm_is_skipped(provider, fake, live_server, alice):
    api = deployed(provider, ("a-small", "ok-model", {"rpm": 2}), ("b-big", "tool-model", {}))
    sdk = client_for(api, live_server, alice)

    labels = [
        sdk.chat.completions.with_raw_response.create(model="x", messages=HELLO).headers["X-Model"]
        for _ in range(3)
    ]

    assert labels == ["a-small", "a-small", "b-big"]


@one_kind
def test_a_deployment_of_weight_zero_is_never_called(provider, fake, live_server, alice):
    api = deployed(provider, ("a-off", "tool-model", {"weight": 0}), ("b-on", "ok-model", {}))
    api.routing = Api.Routing.WEIGHT
    api.save()
    sdk = client_for(api, live_server, alice)

    for _ in range(5):
        sdk.chat.completions.create(model="x", messages=HELLO)

    assert set(models_sent(fake)) == {"ok-model"}


def test_routing_by_weight_draws_the_first_in_proportion():
    provider = Provider(name="p", kind="openai", base_url="http://127.0.0.1:1")
    heavy = Target(provider, "m", None, deployment="heavy", weight=3, api_id=1)
    light = Target(provider, "m", None, deployment="light", weight=1, api_id=1)

    firsts = Counter(routing.order("weight", [heavy, light])[0].deployment for _ in range(400))

    # 3:1 of 400 is 300, give or take 9 (one standard deviation).
    assert 250 < firsts["heavy"] < 350
    assert firsts["light"] == 400 - firsts["heavy"]


def test_routing_by_latency_tries_the_quickest_first():
    provider = Provider(name="p", kind="openai", base_url="http://127.0.0.1:1")
    slow = Target(provider, "m", None, deployment="slow", api_id=2)
    quick = Target(provider, "m", None, deployment="quick", api_id=2)
    routing.ended(slow, routing.began(slow) - 2.0)
    routing.ended(quick, routing.began(quick) - 0.1)

    assert [t.deployment for t in routing.order("latency", [slow, quick])] == ["quick", "slow"]


@needs_postgres
@needs_redis
@pytest.mark.django_db(transaction=True)
@one_kind
def test_a_cooldown_is_seen_by_every_gateway_process(provider, fake, alice):
    api = deployed(provider, ("a-hot", "error-429", {}), ("b-calm", "ok-model", {}))
    application = ApplicationFactory(owner=alice)
    SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    headers = {"Authorization": f"Bearer {token_for(application)}"}
    body = {"model": "x", "messages": HELLO}
    env = {"REDIS_URL": os.environ["REDIS_URL"]}

    with GatewayServer(env=env) as first, GatewayServer(env=env) as second:
        for server in (first, second):
            url = f"{server.url}/gw/{api.slug}/chat/completions"
            answer = httpx.post(url, json=body, headers=headers, timeout=10)
            assert answer.headers["X-Model"] == "b-calm"

    assert models_sent(fake) == ["error-429", "ok-model", "ok-model"]
