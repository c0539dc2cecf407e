"""Tool calls do not queue behind each other: 100 at once through one gateway process are all
held by the upstream at the same moment. Proven by counting what is in flight, never by timing.
An agent that hangs up in the middle of a tool call ends the upstream call it was waiting on.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings

from tests.ai.conftest import accounted_event
from tests.factories import SubscriptionFactory
from tests.mcp.conftest import published_api
from tests.mcp.test_transport import ACCEPT, META, MODERN, rpc
from tests.polling import eventually
from tests.servers import CountingUpstream, GatewayServer
from tests.tokens import token_for

CALLS = 100
# A few may still be on their way when the upstream's patience runs out on a busy machine.
AT_ONCE = 95


@pytest.fixture
def holding():
    with CountingUpstream(hold_until=CALLS, hold_seconds=5) as server:
        yield server


@pytest.fixture
def held_token(holding, application) -> str:
    api = published_api("held", holding.url)
    SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    return token_for(application)


@pytest.fixture
def gateway(request, transactional_db):
    """One gateway process: `make serve`'s own when it can share the tests' database (PostgreSQL),
    else the ASGI live server, which is uvicorn in this process."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        yield request.getfixturevalue("live_server")
        return
    with GatewayServer(env={}) as server:
        yield server


def _headers(token: str, method: str, name: str | None = None) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": ACCEPT,
        "Content-Type": "application/json",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": method,
    }
    return {**headers, "Mcp-Name": name} if name else headers


async def _call_all_at_once(url: str, token: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=CALLS, max_keepalive_connections=CALLS)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        # Warm: the token verified and the tools loaded, so the calls below meet a warm process.
        listed = await client.post(
            url, json=rpc("tools/list", _meta=META), headers=_headers(token, "tools/list")
        )
        assert listed.status_code == 200
        calls = (
            client.post(
                url,
                json=rpc("tools/call", i, _meta=META, name="held", arguments={"path": f"/{i}"}),
                headers=_headers(token, "tools/call", "held"),
            )
            for i in range(CALLS)
        )
        return await asyncio.gather(*calls)


def test_a_hundred_tool_calls_are_in_flight_upstream_at_once(gateway, holding, held_token):
    with ThreadPoolExecutor(max_workers=1) as thread:
        run = thread.submit(asyncio.run, _call_all_at_once(f"{gateway.url}/mcp", held_token))
        answers = run.result()

    results = [answer.json()["result"] for answer in answers]
    assert [answer.status_code for answer in answers] == [200] * CALLS
    assert [result["isError"] for result in results] == [False] * CALLS
    seen = max(json.loads(result["content"][0]["text"])["held_together"] for result in results)
    print(f"\n{seen} of {CALLS} MCP tool calls held by the upstream at the same moment")
    assert holding.peak == seen >= AT_ONCE


def test_an_agent_leaving_mid_tool_call_ends_the_upstream_call_and_counts_499(gateway, application):
    with CountingUpstream(hold_until=2, hold_seconds=30) as upstream:
        api = published_api("held", upstream.url)
        SubscriptionFactory(application=application, api=api, plan=api.plans.get())
        call = rpc("tools/call", _meta=META, name="held", arguments={"path": "/thinking"})
        agent = _raw_post(
            gateway.port, "/mcp", call, _headers(token_for(application), "tools/call", "held")
        )
        assert eventually(lambda: upstream.in_flight, 1) == 1, "the tool call never went upstream"
        agent.close()
        left_at = time.monotonic()
        eventually(lambda: bool(upstream.closed_at), True)

    assert upstream.closed_at, "the upstream went on with a tool call nobody awaits"
    assert upstream.closed_at[0] - left_at < 1.0
    event = accounted_event()
    assert (event.api.slug, event.status) == ("held", 499)


def _raw_post(port: int, path: str, message: dict, headers: dict[str, str]) -> socket.socket:
    """A POST sent on a socket of its own, left open for the test to close mid-call."""
    body = json.dumps(message).encode()
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + body)
    return sock
