"""Tool calls do not queue behind each other: 100 at once through one gateway process are all
held by the upstream at the same moment. Proven by counting what is in flight, never by timing.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings

from tests.factories import SubscriptionFactory
from tests.mcp.conftest import published_api
from tests.mcp.test_transport import ACCEPT, META, MODERN, rpc
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
