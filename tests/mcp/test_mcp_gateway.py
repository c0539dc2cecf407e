"""The official SDK's own MCP server published as an `mcp` API, driven by the SDK's client."""

from __future__ import annotations

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from apis.mcp.audit import arguments_digest, audit_ingest
from apis.models import Plan, ToolCallAudit
from apis.usage.models import UsageEvent
from apis.usage.services import usage_ingest
from tests.factories import SubscriptionFactory
from tests.mcp.agents import with_client, with_session
from tests.tokens import token_for

MODES = ("legacy", "2026-07-28")


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
    live_server, tools_token, upstream_server, mode
):
    async def work(client):
        listing = await client.list_tools()
        result = await client.call_tool("tools.echo", {"text": "hi"})
        return listing, result

    listing, result = with_client(f"{live_server.url}/mcp", tools_token, mode, work)

    assert _names(listing) == {"tools.echo", "tools.add"}
    assert result.is_error is False
    assert result.content[0].text == "echo: hi"
    assert upstream_server.credentials("tools/call") == ["Bearer staff-secret"]


@pytest.mark.parametrize("mode", MODES)
def test_a_tool_the_plan_does_not_grant_is_neither_listed_nor_callable(
    live_server, tools_token, upstream_server, mode
):
    async def work(client):
        with pytest.raises(MCPError) as refused:
            await client.call_tool("tools.wipe", {})
        return refused.value

    refused = with_client(f"{live_server.url}/mcp", tools_token, mode, work)

    assert "Unknown tool: tools.wipe" in str(refused)
    assert "tools/call" not in upstream_server.methods()


def test_the_api_alone_at_its_own_endpoint(live_server, agent_app, echo):
    SubscriptionFactory(application=agent_app, api=echo, plan=echo.plans.get())
    token = token_for(agent_app)

    async def work(client):
        return await client.list_tools()

    everything = with_client(f"{live_server.url}/mcp", token, "legacy", work)
    alone = with_client(f"{live_server.url}/gw/tools/mcp", token, "2026-07-28", work)

    assert _names(everything) == {"tools.echo", "tools.add", "echo"}
    assert _names(alone) == {"tools.echo", "tools.add"}


def test_a_rest_api_path_named_mcp_still_reaches_its_upstream(live_server, agent_app, echo):
    SubscriptionFactory(application=agent_app, api=echo, plan=echo.plans.get())
    headers = {"Authorization": f"Bearer {token_for(agent_app)}"}

    answer = httpx.get(f"{live_server.url}/gw/echo/mcp", headers=headers)

    assert answer.status_code == 200
    assert answer.json()["path"] == "/echo/mcp"


def test_upstream_prompts_and_resources_join_under_the_api_slug(live_server, tools_token):
    uri = "portcullis://mcp/tools/notes%3A%2F%2Fwelcome"

    async def work(session):
        prompts = await session.list_prompts()
        prompt = await session.get_prompt("tools.greet", {"name": "Ada"})
        resources = await session.list_resources()
        read = await session.read_resource(uri)
        return prompts, prompt, resources, read

    prompts, prompt, resources, read = with_session(f"{live_server.url}/mcp", tools_token, work)

    assert [p.name for p in prompts.prompts] == ["tools.greet"]
    assert prompt.messages[0].content.text == "Say hello to Ada."
    assert [str(r.uri) for r in resources.resources] == [uri]
    assert read.contents[0].text == "Welcome to the upstream."
    assert str(read.contents[0].uri) == uri


def test_calls_are_counted_as_mcp_usage_and_audited(live_server, agent_app, tools_token, alice):
    async def work(client):
        await client.call_tool("tools.add", {"a": 2, "b": 3})
        with pytest.raises(MCPError):
            await client.call_tool("tools.wipe", {})

    with_client(f"{live_server.url}/mcp", tools_token, "2026-07-28", work)
    live_server.settle()
    usage_ingest()
    audit_ingest()

    event = UsageEvent.objects.get()
    assert (event.api.slug, event.channel, event.status) == ("tools", "mcp", 200)
    rows = {row.target: row for row in ToolCallAudit.objects.all()}
    assert set(rows) == {"tools.add", "tools.wipe"}
    added = rows["tools.add"]
    assert (added.outcome, added.application, added.developer) == ("ok", agent_app, alice)
    assert added.api.slug == "tools"
    assert added.arguments_sha256 == arguments_digest({"a": 2, "b": 3})
    assert rows["tools.wipe"].outcome == "refused"


def test_the_plan_quota_refuses_a_call_as_a_tool_error(live_server, tools_token, upstream_server):
    Plan.objects.filter(api__slug="tools").update(monthly_quota=1)

    async def work(client):
        first = await client.call_tool("tools.echo", {"text": "one"})
        second = await client.call_tool("tools.echo", {"text": "two"})
        return first, second

    first, second = with_client(f"{live_server.url}/mcp", tools_token, "legacy", work)

    assert first.is_error is False
    assert second.is_error is True
    assert "quota" in second.content[0].text.lower()
    assert upstream_server.methods().count("tools/call") == 1


def test_an_mcp_api_answers_only_at_its_mcp_endpoints(live_server, tools_token, upstream_server):
    message = {"method": "tools/call", "params": {"name": "wipe", "arguments": {}}}

    answer = httpx.post(
        f"{live_server.url}/gw/tools/anything",
        json=message,
        headers={"Authorization": f"Bearer {tools_token}"},
    )

    assert answer.status_code == 404
    assert "/gw/tools/mcp" in answer.json()["detail"]
    assert "tools/call" not in upstream_server.methods()
