"""One gateway process under its ASGI server serves many calls at once, and lets go of them.

Concurrency is proven by counting what the upstream holds at the same moment, never by timing.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time

import httpx
import pytest
from django.test import RequestFactory

from apis.gateway.pipeline import handle
from apis.gateway.view import gateway_request
from apis.services import api_transition
from apis.usage.models import UsageEvent
from apis.usage.services import usage_ingest
from tests.asgi import in_a_loop_of_its_own
from tests.factories import ApiFactory, ApplicationFactory, PlanFactory, SubscriptionFactory
from tests.gateway.conftest import needs_postgres, needs_redis
from tests.polling import eventually
from tests.servers import CountingUpstream, GatewayServer
from tests.tokens import token_for

pytestmark = [needs_postgres, needs_redis, pytest.mark.django_db(transaction=True)]

CALLS = 100


def _published(upstream: CountingUpstream, alice) -> dict[str, str]:
    """A REST API on the upstream and a subscribed application's Authorization header."""
    api = ApiFactory(slug="held", upstream_url=upstream.url)
    PlanFactory(api=api, name="wide", rate_limit="100000/m")
    api_transition(api=api, to="published", actor=None)
    application = ApplicationFactory(owner=alice)
    SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    return {"Authorization": f"Bearer {token_for(application)}"}


def _gateway(**env: str) -> GatewayServer:
    return GatewayServer(env={"REDIS_URL": os.environ["REDIS_URL"], **env})


async def _together(url: str, headers: dict[str, str], count: int) -> list[int]:
    limits = httpx.Limits(max_connections=count + 10)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        answers = await asyncio.gather(*(client.get(url, headers=headers) for _ in range(count)))
    return [answer.status_code for answer in answers]


def test_a_hundred_concurrent_calls_reach_the_upstream_together(alice):
    with CountingUpstream(hold_until=CALLS) as upstream, _gateway() as gateway:
        headers = _published(upstream, alice)
        statuses = asyncio.run(_together(f"{gateway.url}/gw/held/x", headers, CALLS))

    assert statuses == [200] * CALLS
    assert upstream.peak >= 95


def test_over_the_process_cap_answers_503_at_once_while_the_others_are_held(alice):
    with CountingUpstream(hold_until=99, hold_seconds=5) as upstream:
        headers = _published(upstream, alice)
        with _gateway(PORTCULLIS_GATEWAY_MAX_IN_FLIGHT="3") as gateway:
            url = f"{gateway.url}/gw/held/x"

            async def scene():
                async with httpx.AsyncClient(timeout=30) as client:
                    held = [
                        asyncio.ensure_future(client.get(url, headers=headers)) for _ in range(3)
                    ]
                    while upstream.in_flight < 3:
                        await asyncio.sleep(0.01)
                    refused = await client.get(url, headers=headers)
                    holding = upstream.in_flight
                    return refused, holding, [(await call).status_code for call in held]

            refused, holding, statuses = asyncio.run(scene())

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert holding == 3, "the refusal came while all three calls were still upstream"
    assert statuses == [200, 200, 200]


def test_a_client_that_goes_away_mid_stream_ends_the_upstream_call_and_counts_499(alice):
    with CountingUpstream() as upstream, _gateway() as gateway:
        headers = _published(upstream, alice)
        with httpx.stream("GET", f"{gateway.url}/gw/held/stream", headers=headers) as response:
            first = next(response.iter_raw())
            left_at = time.monotonic()
        deadline = time.monotonic() + 5
        while not upstream.closed_at and time.monotonic() < deadline:
            time.sleep(0.02)
        usage_ingest()

    assert b"tick" in first
    assert upstream.closed_at, "the upstream never saw its call end"
    assert upstream.closed_at[0] - left_at < 1.0
    event = UsageEvent.objects.get()
    assert event.status == 499
    assert event.bytes_out >= len(first)


def test_a_client_that_goes_away_before_the_answer_ends_the_upstream_call_and_counts_499(alice):
    with CountingUpstream(hold_until=2, hold_seconds=30) as upstream, _gateway() as gateway:
        headers = _published(upstream, alice)
        client = socket.create_connection(("127.0.0.1", gateway.port))
        client.sendall(
            b"GET /gw/held/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: {headers['Authorization']}\r\n\r\n".encode()
        )
        assert eventually(lambda: upstream.in_flight, 1) == 1
        client.close()
        left_at = time.monotonic()
        eventually(lambda: bool(upstream.closed_at), True)
        usage_ingest()

    assert upstream.closed_at[0] - left_at < 1.0, "the upstream went on with a call nobody awaits"
    event = UsageEvent.objects.get()
    assert (event.status, event.bytes_out) == (499, 0)


def test_slow_clients_holding_half_sent_requests_do_not_stop_others(alice):
    with CountingUpstream() as upstream, _gateway() as gateway:
        headers = _published(upstream, alice)
        slow = [socket.create_connection(("127.0.0.1", gateway.port)) for _ in range(200)]
        try:
            for sock in slow:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n")
            health = httpx.get(f"{gateway.url}/healthz", timeout=5)
            call = httpx.get(f"{gateway.url}/gw/held/x", headers=headers, timeout=15)
            still_open = sum(1 for sock in slow if _open(sock))
        finally:
            for sock in slow:
                sock.close()

    assert health.status_code == 200
    assert call.status_code == 200
    assert still_open == 200


def _open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)


def test_an_answer_closed_before_its_first_chunk_ends_the_upstream_call(alice):
    with CountingUpstream() as upstream:
        headers = _published(upstream, alice)
        request = RequestFactory().get(
            "/gw/held/stream", HTTP_AUTHORIZATION=headers["Authorization"]
        )

        async def answer_then_leave():
            answer = await handle(gateway_request(request, "held", "stream"))
            await answer.body.aclose()
            return answer.status

        status = in_a_loop_of_its_own(answer_then_leave)
        deadline = time.monotonic() + 5
        while not upstream.closed_at and time.monotonic() < deadline:
            time.sleep(0.02)

    assert status == 200
    assert upstream.closed_at, "the upstream kept streaming to nobody"


def test_idle_upstream_connections_close_after_the_keepalive_setting(alice):
    # The default (4 s) suits upstreams that close idle connections after 5 s; an upstream
    # closing sooner needs the gateway to let go sooner still.
    with (
        CountingUpstream() as upstream,
        _gateway(PORTCULLIS_GATEWAY_KEEPALIVE_SECONDS="0.5") as gateway,
    ):
        headers = _published(upstream, alice)
        answer = httpx.get(f"{gateway.url}/gw/held/x", headers=headers, timeout=10)
        answered_at = time.monotonic()
        eventually(lambda: len(upstream.idle_closed_at), 1, timeout=6)

    assert answer.status_code == 200
    assert upstream.idle_closed_at, "the gateway kept its idle upstream connection"
    assert upstream.idle_closed_at[0] - answered_at < 2.0
