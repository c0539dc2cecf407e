"""Money budgets and token quotas that hold: each AI call reserves its worst case first.

The fake provider prices ok-model at $2 in and $8 out per million tokens and answers 11 tokens
in, 7 out: a call costs $0.000078, and its worst case with max_tokens=7 is that too (the
gateway counts the same 11 tokens of HELLO).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from decimal import Decimal

import anthropic
import httpx
import openai
import pytest
from asgiref.sync import async_to_sync
from django.core import mail
from django.urls import reverse

from apis.ai import forward as ai_forward
from apis.ai import spend
from apis.ai.models import ProviderModel
from apis.ai.services import provider_save
from apis.gateway import counters
from apis.gateway.limit import spend_keys
from apis.models import Subscription
from apis.usage.models import SpendAlert, UsageEvent
from apis.usage.services import usage_ingest, usage_rollup
from core import shared
from tests.ai.conftest import accounted_event, client_for, provider_on, publish_ai_api
from tests.ai.fakes import StreamingProvider
from tests.ai.test_streams import hang_up_after, subscribed_token
from tests.factories import ApplicationFactory, SubscriptionFactory
from tests.gateway.conftest import needs_postgres, needs_redis
from tests.servers import GatewayServer
from tests.tokens import token_for

HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]
CALL = Decimal("0.000078")
one_kind = pytest.mark.parametrize("kind", ["openai"])


def budgeted(provider, budget: str | None, *, model: str = "ok-model", **plan):
    """A published `ai` API whose plan has this monthly budget (None: none)."""
    api = publish_ai_api(provider, model=model)
    api.plans.update(monthly_budget=None if budget is None else Decimal(budget), **plan)
    return api


def spent(subscription: Subscription, *, calls: int = 0) -> tuple[int, int, int]:
    """The month's spend of the subscription and its application (nano-USD), and tokens,
    once `calls` calls are accounted (the server settles a call before it records it)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        usage_ingest()
        if UsageEvent.objects.count() >= calls:
            break
        time.sleep(0.02)

    async def read():
        return [await shared.get(key, 0) for key in spend_keys(subscription)]

    return tuple(async_to_sync(read)())


@one_kind
def test_a_call_that_might_not_fit_the_budget_is_refused_before_the_provider_sees_it(
    provider, fake, live_server, alice
):
    sdk = client_for(budgeted(provider, "0.0002"), live_server, alice)
    for _ in range(2):
        sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=7)

    with pytest.raises(openai.RateLimitError) as raised:
        sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=7)

    response = raised.value.response
    assert len(fake.requests) == 2
    assert "monthly budget of $0.0002" in raised.value.message
    assert raised.value.body["type"] == "rate_limit_error"
    assert '"budget";q=0;w=' in response.headers["RateLimit-Policy"]
    assert int(response.headers["Retry-After"]) > 0
    assert spent(Subscription.objects.get(), calls=3)[0] == 2 * spend.nanos(CALL)


@one_kind
def test_a_call_without_max_tokens_reserves_and_is_held_to_the_plans_cap(
    provider, fake, live_server, alice
):
    # 11 in and 100 out at most: $0.000822, within $0.001; 1,000 out would not be.
    sdk = client_for(budgeted(provider, "0.001", max_output_tokens=100), live_server, alice)

    sdk.chat.completions.create(model="x", messages=HELLO)

    assert fake.requests[0][2]["max_completion_tokens"] == 100
    assert spent(Subscription.objects.get(), calls=1)[0] == spend.nanos(CALL)


@one_kind
def test_an_unbudgeted_call_is_sent_as_the_client_wrote_it(provider, fake, live_server, alice):
    sdk = client_for(budgeted(provider, None), live_server, alice)

    sdk.chat.completions.create(model="x", messages=HELLO)

    assert "max_completion_tokens" not in fake.requests[0][2]
    assert spent(Subscription.objects.get(), calls=1) == (0, 0, 0)


@one_kind
def test_the_applications_budget_set_by_staff_holds_across_its_apis(
    provider, fake, live_server, alice
):
    sdk = client_for(budgeted(provider, None), live_server, alice)
    subscription = Subscription.objects.get()
    subscription.application.monthly_budget = Decimal("0.0001")
    subscription.application.save()
    sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=7)

    with pytest.raises(openai.RateLimitError) as raised:
        sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=7)

    assert "the application's monthly budget" in raised.value.message
    assert len(fake.requests) == 1


@pytest.mark.parametrize("kind", ["anthropic"])
def test_messages_refused_by_the_budget_in_anthropics_error_shape(
    provider, fake, live_server, alice
):
    api = budgeted(provider, "0")
    application = ApplicationFactory(owner=alice)
    SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    claude = anthropic.Anthropic(
        base_url=f"{live_server.url}/gw/{api.slug}", api_key=token_for(application), max_retries=0
    )

    with pytest.raises(anthropic.RateLimitError) as raised:
        claude.messages.create(model="x", max_tokens=10, messages=HELLO[1:])

    assert raised.value.body["error"]["type"] == "rate_limit_error"
    assert fake.requests == []


@one_kind
def test_embeddings_reserve_their_input(provider, fake, live_server, alice):
    sdk = client_for(budgeted(provider, "0"), live_server, alice)

    with pytest.raises(openai.RateLimitError):
        sdk.embeddings.create(model="x", input="a text to embed")

    assert fake.requests == []


@pytest.mark.django_db(transaction=True)
def test_a_stream_the_client_abandons_settles_to_what_was_used(live_server, alice):
    with StreamingProvider(chunks=100, interval=0.1) as provider:
        priced = provider_save(
            name="many",
            kind="openai_compatible",
            base_url=provider.base_url,
            api_key="k",
            models=[{"name": "m", "input_cost_per_mtok": "2", "output_cost_per_mtok": "8"}],
        )
        api = budgeted(priced, "1", model="m")
        url = f"{live_server.url}/gw/{api.slug}/chat/completions"
        hang_up_after(url, subscribed_token(api, alice), events=3)
        event = accounted_event()

    # Reserved: 4 in and 4,096 out; settled: the 5 in and few out reported before the cut.
    assert event.status == 499
    assert 0 < event.cost < Decimal("0.0001")
    assert spent(Subscription.objects.get(), calls=1)[0] == spend.nanos(event.cost)


@needs_postgres
@needs_redis
@pytest.mark.django_db(transaction=True)
@one_kind
def test_two_gateway_processes_never_spend_past_the_budget_nor_refuse_below_it(fake, alice, bob):
    provider = provider_on(fake)
    # $0.001 holds 12 calls of $0.000078 and not 13; a second application has room for all of
    # its 6 calls, made at the same time.
    api = budgeted(provider, "0.001")
    greedy, modest = (
        token_for(SubscriptionFactory(api=api, plan=api.plans.get(), application=app).application)
        for app in (ApplicationFactory(owner=alice), ApplicationFactory(owner=bob))
    )
    env = {"REDIS_URL": os.environ["REDIS_URL"]}
    with GatewayServer(env=env) as first, GatewayServer(env=env) as second:
        calls = [(first if i % 2 else second, greedy) for i in range(40)]
        calls += [(first if i % 2 else second, modest) for i in range(6)]
        statuses = asyncio.run(_all_at_once(api.slug, calls))
        spent(Subscription.objects.first(), calls=len(calls))

    greedy_statuses, modest_statuses = statuses[:40], statuses[40:]
    assert sorted(set(greedy_statuses)) == [200, 429]
    assert greedy_statuses.count(200) == 12
    assert modest_statuses == [200] * 6
    assert len(fake.requests) == 18
    for subscription in Subscription.objects.all():
        events = UsageEvent.objects.filter(subscription=subscription, status=200)
        cost = sum((e.cost for e in events), Decimal(0))
        assert cost <= Decimal("0.001")
        assert spent(subscription)[0] == spend.nanos(cost)


def alerted(count: int) -> list[SpendAlert]:
    """The alerts, once there are `count`: the server raises them as it settles, a moment
    after the client has its answer."""
    deadline = time.monotonic() + 5
    while SpendAlert.objects.count() < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return list(SpendAlert.objects.order_by("threshold"))


async def _all_at_once(slug: str, calls: list[tuple[GatewayServer, str]]) -> list[int]:
    body = {"model": "x", "messages": HELLO, "max_tokens": 7}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=100)) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    f"{server.url}/gw/{slug}/chat/completions",
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                )
                for server, token in calls
            )
        )
    return [answer.status_code for answer in answers]


@one_kind
def test_the_owner_is_told_once_at_80_and_once_at_100_percent_and_sees_it_in_the_portal(
    provider, fake, live_server, alice, client
):
    # $0.0009: the tenth call of $0.000078 brings the spend to 86%, the twelfth does not fit.
    sdk = client_for(budgeted(provider, "0.0009"), live_server, alice)
    for _ in range(10):
        sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=7)
    told_at_80 = alerted(1)
    sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=7)
    for _ in range(2):
        with pytest.raises(openai.RateLimitError):
            sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=7)

    assert [a.threshold for a in told_at_80] == [80]
    assert [(a.policy, a.threshold, a.api_id is not None) for a in alerted(2)] == [
        ("budget", 80, True),
        ("budget", 100, True),
    ]
    assert [m.to for m in mail.outbox] == [[alice.email], [alice.email]]
    assert "80%" in mail.outbox[0].subject
    usage_ingest()
    usage_rollup()
    client.force_login(alice)
    page = client.get(reverse("portal:usage")).content.decode()
    assert "Spend this month" in page
    assert "100% of this subscription" in page
    assert "0.000858" in page and "0.0009" in page


@one_kind
def test_responses_reserve_against_the_budget_and_settle_to_their_cost(
    provider, fake, live_server, alice
):
    # One call of $0.000078 fits $0.0001; the worst case of a second does not.
    sdk = client_for(budgeted(provider, "0.0001"), live_server, alice)
    sdk.responses.create(model="x", input="Say hello", max_output_tokens=7)

    with pytest.raises(openai.RateLimitError) as raised:
        sdk.responses.create(model="x", input="Say hello", max_output_tokens=7)

    assert "monthly budget of $0.0001" in raised.value.message
    assert len(fake.requests) == 1
    held = spent(Subscription.objects.get(), calls=2)[0]
    assert held == spend.nanos(UsageEvent.objects.get(status=200).cost) > 0


@pytest.mark.parametrize("kind", ["anthropic"])
def test_a_stream_the_provider_breaks_off_settles_to_what_was_used(
    provider, fake, live_server, alice
):
    ProviderModel.objects.create(
        provider=provider, name="breaks-midway", input_cost_per_mtok=2, output_cost_per_mtok=8
    )
    api = budgeted(provider, "1", model="breaks-midway")
    application = ApplicationFactory(owner=alice)
    SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    claude = anthropic.Anthropic(
        base_url=f"{live_server.url}/gw/{api.slug}", api_key=token_for(application), max_retries=0
    )

    with (
        pytest.raises(anthropic.APIStatusError),
        claude.messages.stream(
            model="breaks-midway", max_tokens=1000, messages=HELLO[1:]
        ) as stream,
    ):
        list(stream.text_stream)

    # Reserved: its input and 1,000 out ($0.008 and more); settled: the two words it sent.
    event = accounted_event()
    assert (event.estimated, event.completion_tokens) == (True, 2)
    assert spent(Subscription.objects.get(), calls=1)[0] == spend.nanos(event.cost)
    assert 0 < event.cost < Decimal("0.001")


@one_kind
def test_a_cached_answer_is_served_when_the_budget_has_no_room_for_another_call(
    provider, fake, live_server, alice
):
    # $0.0001 holds one call of $0.000078: the hit reserves and spends nothing.
    api = budgeted(provider, "0.0001")
    api.cache_ttl = 60
    api.save()
    sdk = client_for(api, live_server, alice)
    create = sdk.chat.completions.with_raw_response.create
    first = create(model="x", messages=HELLO, max_tokens=7)
    hit = create(model="x", messages=HELLO, max_tokens=7)

    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=7, temperature=0.5)

    assert (first.headers["X-Cache"], hit.headers["X-Cache"]) == ("MISS", "HIT")
    assert len(fake.requests) == 1
    assert spent(Subscription.objects.get(), calls=3)[0] == spend.nanos(CALL)


@one_kind
def test_the_owner_is_told_at_80_and_100_percent_of_the_token_quota(
    provider, fake, live_server, alice
):
    # A call uses 18 tokens of 40: the second reaches 90%, the third may use 18 more and is
    # refused, which counts as 100%.
    sdk = client_for(budgeted(provider, None, token_quota=40), live_server, alice)
    for _ in range(2):
        sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=7)
    told_at_80 = alerted(1)

    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=7)

    assert [(a.policy, a.threshold) for a in told_at_80] == [("tokens", 80)]
    assert [(a.policy, a.threshold) for a in alerted(2)] == [("tokens", 80), ("tokens", 100)]
    assert [m.to for m in mail.outbox] == [[alice.email], [alice.email]]
    assert "40 AI tokens" in SpendAlert.objects.get(threshold=80).detail


@one_kind
def test_a_budgeted_call_over_the_rate_limit_is_refused_and_reserves_nothing(
    provider, fake, live_server, alice
):
    sdk = client_for(budgeted(provider, "1", rate_limit="2/h"), live_server, alice)
    for _ in range(2):
        sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=7)

    with pytest.raises(openai.RateLimitError) as raised:
        sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=7)

    assert "More than 2/h requests" in raised.value.message
    assert '"rate";q=2;w=3600' in raised.value.response.headers["RateLimit-Policy"]
    assert len(fake.requests) == 2
    assert spent(Subscription.objects.get(), calls=3)[0] == 2 * spend.nanos(CALL)


@one_kind
def test_a_budgeted_call_that_fails_before_reserving_still_counts_against_the_rate_limit(
    provider, fake, live_server, alice
):
    api = budgeted(provider, "1", rate_limit="1/h")
    sdk = client_for(api, live_server, alice)
    url = f"{live_server.url}/gw/{api.slug}/chat/completions"
    headers = {"Authorization": f"Bearer {sdk.api_key}", "Content-Type": "application/json"}

    invalid = httpx.post(url, content=b"{not json", headers=headers)
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=7)

    assert invalid.status_code == 400
    assert fake.requests == []


@one_kind
def test_a_budgeted_call_whose_client_leaves_while_sending_its_body_still_counts(
    provider, fake, live_server, alice, monkeypatch
):
    # The call is counted with its reservation, after its body is read: the client leaving
    # before then cancels the call, which must take its place in the rate window all the same.
    api = budgeted(provider, "1", rate_limit="2/h")
    sdk = client_for(api, live_server, alice)
    reading = threading.Event()
    monkeypatch.setattr(ai_forward, "read_body", _noting(ai_forward.read_body, reading))
    head = (
        f"POST /gw/{api.slug}/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {sdk.api_key}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", live_server.port)) as client:
        client.sendall(head.encode() + b'{"model": "x", "messages": [')
        assert reading.wait(5), "the gateway never began reading the body"
    assert accounted_event().status == 499

    admitted = sdk.chat.completions.with_raw_response.create(
        model="x", messages=HELLO, max_tokens=7
    )
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=7)

    assert admitted.headers["RateLimit"].startswith('"rate";r=0;')
    assert len(fake.requests) == 1


def _noting(read_body, began: threading.Event):
    """`read_body`, setting `began` as the gateway begins to read a body."""

    async def noted(call):
        began.set()
        return await read_body(call)

    return noted


@needs_redis
@one_kind
def test_a_settlement_redis_has_not_seen_is_loaded_and_settles(
    provider, fake, live_server, alice, monkeypatch
):
    # A script body Redis has never run: as after a restart or SCRIPT FLUSH, it answers NOSCRIPT.
    fresh = f"{counters.SETTLE_SCRIPT}-- {uuid.uuid4()}\n"
    monkeypatch.setattr(counters, "SETTLE_SCRIPT", fresh)
    sdk = client_for(budgeted(provider, "1"), live_server, alice)

    for _ in range(2):
        sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=1000)

    # Reserved: 11 in and 1,000 out, each; settled to the 7 out each answer used.
    assert spent(Subscription.objects.get(), calls=2) == (
        2 * spend.nanos(CALL),
        2 * spend.nanos(CALL),
        2 * 18,
    )
