"""Agents using the official MCP SDK list and call their subscribed APIs, in every protocol era."""

from __future__ import annotations

import json

import pytest
from mcp.shared.exceptions import MCPError

from apis.models import Plan
from apis.usage.models import UsageEvent
from apis.usage.services import usage_ingest
from tests.mcp.agents import MODES, with_client, with_session
from tests.tokens import token_for


def _names(listing) -> set[str]:
    return {tool.name for tool in listing.tools}


def _echo(result) -> dict:
    return json.loads(result.content[0].text)


def test_handshake_session_lists_the_subscribed_apis_as_tools(mcp_url, token):
    async def work(session):
        return await session.list_tools()

    listing = with_session(mcp_url, token, work)

    assert _names(listing) == {
        "orders.listOrders",
        "orders.createOrder",
        "orders.getOrder",
        "echo",
    }
    get_order = next(tool for tool in listing.tools if tool.name == "orders.getOrder")
    assert get_order.input_schema["required"] == ["id"]


@pytest.mark.parametrize("mode", MODES)
def test_client_calls_an_operation_through_the_gateway(mcp_url, token, upstream, mode):
    async def work(client):
        listing = await client.list_tools()
        result = await client.call_tool("orders.getOrder", {"id": "42"})
        return listing, result

    listing, result = with_client(mcp_url, token, mode, work)

    assert "orders.getOrder" in _names(listing)
    assert result.is_error is False
    echo = _echo(result)
    assert echo["method"] == "GET"
    assert echo["path"] == "/base/orders/42"
    assert "authorization" not in {name.lower() for name in echo["headers"]}


@pytest.mark.parametrize("mode", MODES)
def test_request_body_and_query_reach_the_upstream(mcp_url, token, mode):
    async def work(client):
        created = await client.call_tool(
            "orders.createOrder", {"body": {"sku": "a", "quantity": 2}}
        )
        listed = await client.call_tool("orders.listOrders", {"limit": 5})
        return created, listed

    created, listed = with_client(mcp_url, token, mode, work)

    assert _echo(created)["method"] == "POST"
    assert _echo(created)["body_size"] == len(json.dumps({"sku": "a", "quantity": 2}))
    assert _echo(listed)["path"] == "/base/orders?limit=5"


@pytest.mark.parametrize("mode", MODES)
def test_schema_violation_is_a_tool_error_and_never_reaches_the_upstream(
    mcp_url, token, upstream, mode
):
    async def work(client):
        return await client.call_tool("orders.createOrder", {"body": {"sku": "a"}})

    result = with_client(mcp_url, token, mode, work)

    assert result.is_error is True
    assert "quantity" in result.content[0].text
    assert sum(upstream.hits.values()) == 0


@pytest.mark.parametrize("mode", MODES)
def test_exhausted_quota_is_a_tool_error(mcp_url, token, orders, mode):
    Plan.objects.filter(api=orders).update(monthly_quota=1)

    async def work(client):
        first = await client.call_tool("orders.getOrder", {"id": "1"})
        second = await client.call_tool("orders.getOrder", {"id": "2"})
        return first, second

    first, second = with_client(mcp_url, token, mode, work)

    assert first.is_error is False
    assert second.is_error is True
    assert "429" in second.content[0].text


@pytest.mark.parametrize("mode", MODES)
def test_unsubscribed_api_is_neither_listed_nor_callable(mcp_url, token, upstream, mode):
    async def work(client):
        listing = await client.list_tools()
        with pytest.raises(MCPError) as refused:
            await client.call_tool("vault", {"path": "/secrets"})
        return listing, refused.value

    listing, refusal = with_client(mcp_url, token, mode, work)

    assert not any(name.startswith("vault") for name in _names(listing))
    assert "Unknown tool" in refusal.error.message
    assert upstream.hits == {}


@pytest.mark.parametrize("mode", MODES)
def test_client_without_a_token_is_refused(mcp_url, mode):
    async def work(client):
        return await client.list_tools()

    with pytest.raises(Exception):  # noqa: B017 - each SDK era surfaces the 401 its own way
        with_client(mcp_url, None, mode, work)


def test_generic_tool_of_an_api_without_openapi_document(mcp_url, token):
    async def work(client):
        return await client.call_tool(
            "echo", {"method": "PUT", "path": "/items/7", "query": {"q": "x"}, "body": [1]}
        )

    echo = _echo(with_client(mcp_url, token, "legacy", work))

    assert echo["method"] == "PUT"
    assert echo["path"] == "/echo/items/7?q=x"
    assert echo["body_size"] == 3


def test_tool_calls_are_accounted_as_mcp_usage(mcp_url, token, orders):
    async def work(client):
        return await client.call_tool("orders.getOrder", {"id": "9"})

    with_client(mcp_url, token, "2026-07-28", work)
    usage_ingest()

    event = UsageEvent.objects.get(api=orders)
    assert event.channel == "mcp"
    assert event.status == 200


@pytest.mark.parametrize("mode", MODES)
def test_a_token_scoped_to_one_api_sees_and_calls_only_that_api(mcp_url, subscribed, mode):
    scoped = token_for(subscribed, scope=["echo"])

    async def work(client):
        listing = await client.list_tools()
        try:
            await client.call_tool("orders.getOrder", {"id": "1"})
        except MCPError as refused:
            return listing, refused.error
        return listing, None

    listing, refused = with_client(mcp_url, scoped, mode, work)

    assert _names(listing) == {"echo"}
    assert refused is not None
    assert "Unknown tool" in refused.message
