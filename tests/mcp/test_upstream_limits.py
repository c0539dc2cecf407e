"""What the gateway holds of an upstream MCP server's answer: no more than the body limit."""

from __future__ import annotations

import pytest

from tests.factories import ApplicationFactory, SubscriptionFactory
from tests.mcp.agents import with_client
from tests.mcp.conftest import mcp_api
from tests.mcp.upstreams import EndlessLineUpstream
from tests.tokens import token_for

LIMIT = 64 * 1024


@pytest.mark.parametrize("encoding", ["", "gzip"])
def test_an_upstream_line_that_never_ends_is_cut_off_at_the_body_limit(
    live_server, transactional_db, alice, settings, encoding
):
    settings.PORTCULLIS = {**settings.PORTCULLIS, "MCP": {"BODY_LIMIT": LIMIT}}
    # Unbounded, the gateway would read the upstream's 16 MiB line to its end, holding it all.
    with EndlessLineUpstream(most=16 * 1024 * 1024, encoding=encoding) as upstream:
        api = mcp_api("flood", upstream.url, allowed_tools=["*"], mcp_revision="2026-07-28")
        app = ApplicationFactory(owner=alice)
        SubscriptionFactory(application=app, api=api, plan=api.plans.get())

        async def work(client):
            return await client.call_tool("flood.flood", {})

        result = with_client(f"{live_server.url}/mcp", token_for(app), "2026-07-28", work)

    assert result.is_error is True
    assert f"MCP server of 'flood' streamed more than {LIMIT} bytes" in result.content[0].text
    assert upstream.cut_short, "the gateway read the upstream's line to its end"
    assert upstream.sent < upstream.most
