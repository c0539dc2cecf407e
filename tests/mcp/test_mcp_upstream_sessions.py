"""Sessions toward upstream MCP servers: one per caller session, renewed, closed; bounded."""

from __future__ import annotations

import time

import pytest

from apis.models import Api, Plan
from tests.factories import SubscriptionFactory
from tests.mcp.agents import with_client, with_session
from tests.mcp.conftest import mcp_api
from tests.mcp.upstreams import McpUpstream
from tests.tokens import token_for


def _wait_for(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


def test_each_caller_session_gets_its_own_upstream_session_closed_with_it(
    live_server, tools_token, upstream_server
):
    Api.objects.filter(slug="tools").update(mcp_revision="2025-11-25")

    async def work(session):
        await session.call_tool("tools.echo", {"text": "a"})
        await session.call_tool("tools.echo", {"text": "b"})

    before = upstream_server.methods().count("initialize")
    with_session(f"{live_server.url}/mcp", tools_token, work)
    with_session(f"{live_server.url}/mcp", tools_token, work)

    assert upstream_server.methods().count("initialize") - before == 2
    assert upstream_server.methods().count("tools/call") == 4
    _wait_for(lambda: upstream_server.live_sessions() == 0)


def test_an_expired_upstream_session_is_renewed_without_the_caller_noticing(
    live_server, agent_app, alice
):
    with McpUpstream(session_idle_timeout=0.5) as server:
        api = mcp_api("expiring", server.url, allowed_tools=["*"], mcp_revision="2025-06-18")
        SubscriptionFactory(application=agent_app, api=api, plan=api.plans.get())

        async def work(session):
            first = await session.call_tool("expiring.echo", {"text": "before"})
            _wait_for(lambda: server.live_sessions() == 0)
            second = await session.call_tool("expiring.echo", {"text": "after"})
            return first, second

        before = server.methods().count("initialize")
        first, second = with_session(f"{live_server.url}/mcp", token_for(agent_app), work)

    assert first.is_error is False
    assert second.is_error is False
    assert second.content[0].text == "echo: after"
    assert server.methods().count("initialize") - before == 2


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_an_upstream_that_is_down_is_a_tool_error_naming_the_api(
    live_server, tools_token, upstream_server, mode
):
    upstream_server.stop()

    async def work(client):
        return await client.call_tool("tools.echo", {"text": "hello?"})

    result = with_client(f"{live_server.url}/mcp", tools_token, mode, work)

    assert result.is_error is True
    assert "MCP server of 'tools' could not be reached" in result.content[0].text


def test_a_slow_upstream_is_a_tool_error_within_the_api_timeout(
    live_server, tools_token, upstream_server
):
    Api.objects.filter(slug="tools").update(timeout=1)
    Plan.objects.filter(api__slug="tools").update(allowed_tools=["hold"])

    async def work(client):
        return await client.call_tool("tools.hold", {})

    result = with_client(f"{live_server.url}/mcp", tools_token, "2026-07-28", work)

    assert result.is_error is True
    assert "MCP server of 'tools' did not answer within 1 s" in result.content[0].text
    assert upstream_server.holding == 1, "answered while the upstream still held the call"


@pytest.mark.parametrize("revision", ["2025-06-18", "2025-11-25", "2026-07-28"])
def test_upstreams_on_each_revision(live_server, tools_token, upstream_server, revision):
    Api.objects.filter(slug="tools").update(mcp_revision=revision)

    async def work(client):
        return await client.call_tool("tools.add", {"a": 40, "b": 2})

    result = with_client(f"{live_server.url}/mcp", tools_token, "legacy", work)

    assert result.is_error is False
    assert result.content[0].text == "42"
    calls = [h for method, h in upstream_server.requests if method == "tools/call"]
    assert [h["mcp-protocol-version"] for h in calls] == [revision]
    assert ("mcp-session-id" in calls[0]) is (revision != "2026-07-28")
