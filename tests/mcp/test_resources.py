"""Each subscribed API's OpenAPI document as an MCP resource, read with the official SDK."""

from __future__ import annotations

import json

import pytest
from mcp.shared.exceptions import MCPError

from tests.factories import ApplicationFactory, SubscriptionFactory
from tests.mcp.agents import MODES, with_client, with_session
from tests.mcp.conftest import ORDERS_OPENAPI, published_api

ORDERS_URI = "portcullis://apis/orders/openapi.json"


@pytest.fixture
def ledger(transactional_db, upstream, bob):
    """An API with a document that only bob's application subscribes to."""
    api = published_api("ledger", f"{upstream.url}/ledger", openapi=ORDERS_OPENAPI)
    SubscriptionFactory(application=ApplicationFactory(owner=bob), api=api, plan=api.plans.get())
    return api


@pytest.mark.parametrize("mode", MODES)
def test_an_agent_lists_and_reads_the_documents_of_its_apis(mcp_url, token, ledger, mode):
    async def work(client):
        listing = await client.list_resources()
        read = await client.read_resource(ORDERS_URI)
        return listing, read

    listing, read = with_client(mcp_url, token, mode, work)

    # echo has no document and ledger is not alice's: only orders is listed.
    assert [str(resource.uri) for resource in listing.resources] == [ORDERS_URI]
    assert listing.resources[0].mime_type == "application/json"
    document = json.loads(read.contents[0].text)
    assert document["paths"] == ORDERS_OPENAPI["paths"]
    # The backend's address stays with staff: the agent is told to go through the gateway.
    assert document["servers"] == [{"url": f"{mcp_url.removesuffix('/mcp')}/gw/orders"}]


def test_a_document_of_an_api_the_caller_is_not_subscribed_to_is_not_found(mcp_url, token, ledger):
    async def work(session):
        try:
            await session.read_resource("portcullis://apis/ledger/openapi.json")
        except MCPError as error:
            return error.error
        return None

    refused = with_session(mcp_url, token, work)

    assert refused is not None
    assert refused.code == -32602  # SEP-2164's code for a resource that is not there
    assert "not found" in refused.message
