"""AI streams through the real ASGI server: a hundred at once, and a client leaving mid-stream."""

from __future__ import annotations

import asyncio
import os
import time

import httpx
import openai
import pytest
from asgiref.sync import async_to_sync
from django.test import override_settings

from apis.ai import calls
from apis.ai.formats.chat import Chat
from apis.ai.forward import translated_body
from apis.ai.models import Provider
from apis.ai.services import provider_save
from apis.ai.targets import Target
from apis.gateway.context import Outcome
from apis.gateway.http_client import close_upstream_client
from apis.models import Api, Subscription
from tests.ai.conftest import accounted_event, publish_ai_api
from tests.ai.fakes import EndlessLineProvider, StreamingProvider
from tests.factories import ApplicationFactory, SubscriptionFactory
from tests.gateway.calls import admitted_call
from tests.gateway.conftest import needs_postgres, needs_redis
from tests.servers import GatewayServer
from tests.tokens import token_for

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 100
HELLO = [{"role": "user", "content": "hi"}]
STREAM = {"model": "m", "messages": HELLO, "stream": True}


def streaming_api(provider: StreamingProvider) -> Api:
    """An `ai` API on the streaming provider."""
    saved = provider_save(
        name="many", kind="openai_compatible", base_url=provider.base_url, api_key="k"
    )
    return publish_ai_api(saved, model="m")


def subscribed_token(api: Api, owner) -> str:
    application = ApplicationFactory(owner=owner)
    SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    return token_for(application)


def test_a_hundred_streams_reach_the_provider_at_the_same_moment(live_server, alice):
    # Each stream waits, after its first chunk, until all are open at once (or 20 s): a gateway
    # that queued calls would never get there.
    with StreamingProvider(hold_until=CLIENTS, hold_timeout=20) as provider:
        api = streaming_api(provider)
        base_url = f"{live_server.url}/gw/{api.slug}"
        texts = asyncio.run(stream_all(base_url, subscribed_token(api, alice)))

    assert provider.peak >= 95, f"only {provider.peak} streams were open at once"
    assert texts == ["t0 t1 t2 t3 "] * CLIENTS


async def stream_all(base_url: str, token: str) -> list[str]:
    """The text of CLIENTS streamed chat completions, all asked for at once."""
    async with openai.AsyncOpenAI(
        base_url=base_url, api_key=token, max_retries=0, timeout=60
    ) as client:
        return await asyncio.gather(*(streamed_text(client) for _ in range(CLIENTS)))


async def streamed_text(client: openai.AsyncOpenAI) -> str:
    stream = await client.chat.completions.create(model="m", messages=HELLO, stream=True)
    return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


def test_client_leaving_mid_stream_stops_the_provider_and_is_accounted_as_499(live_server, alice):
    with StreamingProvider(chunks=100, interval=0.1) as provider:
        api = streaming_api(provider)
        url = f"{live_server.url}/gw/{api.slug}/chat/completions"
        left = hang_up_after(url, subscribed_token(api, alice), events=3)
        cut = first_cut(provider)

    assert cut - left < 1.0, f"the provider's call was dropped {cut - left:.3f} s after the client"
    event = accounted_event()
    assert event.status == 499
    assert event.bytes_out > 0
    # The tokens the provider had reported by then (role chunk, t0, t1: at least two).
    assert 2 <= event.completion_tokens < 100
    assert event.prompt_tokens == 5


@needs_postgres
@needs_redis
@pytest.mark.parametrize("tasks", ["asyncio", "rust"])
def test_under_granian_a_client_leaving_mid_stream_stops_the_provider(alice, tasks):
    # Granian runs the application in an asyncio task, or in a task of its own (Rust) that
    # cancels the same way: either way the client's leaving cancels the answer.
    env = {"REDIS_URL": os.environ["REDIS_URL"]}
    with (
        StreamingProvider(chunks=100, interval=0.1) as provider,
        GatewayServer(env=env, granian=tasks) as gateway,
    ):
        api = streaming_api(provider)
        url = f"{gateway.url}/gw/{api.slug}/chat/completions"
        hang_up_after(url, subscribed_token(api, alice), events=3)
        first_cut(provider)
        event = accounted_event()

    assert event.status == 499
    assert 2 <= event.completion_tokens < 100


def hang_up_after(url: str, token: str, *, events: int) -> float:
    """Read the first `events` events of a streamed chat, then close the connection; when."""
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", url, json=STREAM, headers=headers) as response,
    ):
        assert response.status_code == 200
        data = (line for line in response.iter_lines() if line.startswith("data:"))
        for _ in range(events):
            next(data)
        # Leaving the block closes a response not read to its end: the connection is dropped.
        left = time.monotonic()
    return left


def first_cut(provider: StreamingProvider) -> float:
    """When the provider first saw the gateway hang up in the middle of a stream."""
    deadline = time.monotonic() + 5
    while not provider.cut_short and time.monotonic() < deadline:
        time.sleep(0.01)
    assert provider.cut_short, "the provider's stream was never cut short"
    return provider.cut_short[0]


@pytest.mark.parametrize("events", [0, 3])
def test_closing_the_answer_mid_stream_drops_the_provider_call_at_once(events):
    # The body closed (GeneratorExit) rather than the task cancelled; before its first event too.
    with StreamingProvider(chunks=100, interval=0.1) as provider:
        ctx, closed, sent = read_then_close(provider, events=events)

    assert provider.cut_short, "the provider's stream was not cut short"
    assert provider.cut_short[0] - closed < 1.0
    # The provider's running count when the body closed: one token per event after the role's.
    assert ctx.completion_tokens == max(sent - 1, 0)
    assert sent >= events
    assert ctx.tokens_estimated == bool(events)


@async_to_sync
async def read_then_close(
    provider: StreamingProvider, *, events: int
) -> tuple[Outcome, float, int]:
    """Open a stream as the gateway does, read at least `events` events (what one read of the
    provider completes comes as one piece), close it; its outcome, when, and the events read.

    The loop's client pool stays open until the provider has seen the hang-up (or 2 s): closing
    the pool would drop the connection whatever the stream did.
    """
    target = Target(
        Provider(name="many", kind="openai_compatible", base_url=provider.base_url), "m", None
    )
    call = admitted_call(method="POST", slug="chat", api=Api(), subscription=Subscription())
    try:
        opened = await calls.open_stream([target], STREAM, budget=calls.Budget(httpx.Timeout(5)))
        body = translated_body(call, opened, Chat(), STREAM, deadline=None)
        sent = 0
        while sent < events:
            sent += (await anext(body)).count(b"data: ")
        closed = time.monotonic()
        await body.aclose()
        for _ in range(200):
            if provider.cut_short:
                break
            await asyncio.sleep(0.01)
    finally:
        await close_upstream_client()
    return call.outcome, closed, sent


EVENT_LIMIT = 64 * 1024


@override_settings(PORTCULLIS={"GATEWAY": {"STREAM_EVENT_LIMIT": EVENT_LIMIT}})
def test_a_provider_line_that_never_ends_breaks_the_stream_off_at_the_limit(live_server, alice):
    # Unbounded, the gateway would read the provider's 16 MiB line to its end, holding it all.
    with EndlessLineProvider(most=16 * 1024 * 1024) as provider:
        api = streaming_api(provider)
        client = openai.OpenAI(
            base_url=f"{live_server.url}/gw/{api.slug}",
            api_key=subscribed_token(api, alice),
            max_retries=0,
        )
        stream = client.chat.completions.create(model="m", messages=HELLO, stream=True)
        texts = []
        with pytest.raises(openai.APIError, match=f"limit of {EVENT_LIMIT} bytes"):
            texts.extend(c.choices[0].delta.content for c in stream if c.choices)
        event = accounted_event()

    assert texts == ["Hello there"]
    assert provider.cut_short, "the gateway read the provider's line to its end"
    assert provider.sent < provider.most
    # Headers had gone out: the call is a 200 whose stream broke off, charged what it used.
    assert event.status == 200
    assert event.estimated
    assert event.completion_tokens == 2
