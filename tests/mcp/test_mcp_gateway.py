"""Upstream MCP servers (the official SDK's own) published as `mcp` APIs, driven by the SDK client."""

from __future__ import annotations

import time

import pytest
from mcp.shared.exceptions import MCPError

from apis.mcp.credentials import upstream_credential_set
from apis.mcp.snapshots import snapshot_refresh
from apis.models import Plan, ToolCallAudit, UsageEvent
from apis.services import api_set_upstream_credential, api_transition
from apis.usage.services import usage_ingest
from tests.factories import ApiFactory, ApplicationFactory, PlanFactory, SubscriptionFactory
from tests.mcp.agents import with_client, with_session
from tests.mcp.upstreams import McpUpstream
from tests.tokens import token_for

MODES = ("legacy", "2026-07-28")


@pytest.fixture
def upstream_server():
    with McpUpstream(bearer=True) as server:
        yield server


def mcp_api(slug: str, url: str, *, allowed_tools: list[str], credential: str = "", **fields):
    """A published `mcp` API with one plan granting `allowed_tools`, its snapshot taken."""
    api = ApiFactory(slug=slug, name=slug.title(), kind="mcp", upstream_url=url, **fields)
    if credential:
        api_set_upstream_credential(api=api, header="Authorization", value=credential)
    PlanFactory(api=api, name="basic", rate_limit="1000/m", allowed_tools=allowed_tools)
    snapshot_refresh(api=api)
    api_transition(api=api, to="published", actor=None)
    return api


@pytest.fixture
def tools_api(transactional_db, upstream_server):
    return mcp_api(
        "tools", upstream_server.url, allowed_tools=["echo", "add"], credential="staff-secret"
    )


@pytest.fixture
def application(alice, tools_api):
    app = ApplicationFactory(owner=alice, name="alice-agent")
    SubscriptionFactory(application=app, api=tools_api, plan=tools_api.plans.get())
    return app


@pytest.fixture
def token(application) -> str:
    return token_for(application)


def _names(listing) -> set[str]:
    return {tool.name for tool in listing.tools}


def test_the_snapshot_holds_the_upstream_tools(tools_api):
    snapshot = tools_api.mcp_snapshot

    assert snapshot.error == ""
    assert set(snapshot.tool_names()) == {"echo", "add", "wipe", "hold"}
    assert [prompt["name"] for prompt in snapshot.prompts] == ["greet"]
    assert [resource["uri"] for resource in snapshot.resources] == ["notes://welcome"]


@pytest.mark.parametrize("mode", MODES)
def test_granted_upstream_tools_are_listed_and_called_under_the_api_slug(
    live_server, token, upstream_server, mode
):
    async def work(client):
        listing = await client.list_tools()
        result = await client.call_tool("tools.echo", {"text": "hi"})
        return listing, result

    listing, result = with_client(f"{live_server.url}/mcp", token, mode, work)

    assert _names(listing) == {"tools.echo", "tools.add"}
    assert result.is_error is False
    assert result.content[0].text == "echo: hi"
    assert upstream_server.credentials("tools/call") == ["Bearer staff-secret"]


@pytest.mark.parametrize("mode", MODES)
def test_a_tool_the_plan_does_not_grant_is_neither_listed_nor_callable(
    live_server, token, upstream_server, mode
):
    async def work(client):
        with pytest.raises(MCPError) as refused:
            await client.call_tool("tools.wipe", {})
        return refused.value

    refused = with_client(f"{live_server.url}/mcp", token, mode, work)

    assert "Unknown tool: tools.wipe" in str(refused)
    assert "tools/call" not in upstream_server.methods()
