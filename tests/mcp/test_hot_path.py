"""Once warm, /mcp answers tools/list and tools/call on the event loop: no thread, no database."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.asgi import AsgiClient
from tests.mcp.test_transport import ACCEPT, META, MODERN, rpc

needs_redis = pytest.mark.skipif(
    not settings.REDIS_URL,
    reason="needs Redis: on the embedded default a call's usage event is written to the "
    "database directly, through the ORM thread",
)


@pytest.fixture
def agent(token) -> AsgiClient:
    """The project's ASGI application driven in-process, with the agent's bearer token."""
    client = AsgiClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT=ACCEPT)
    return client


def modern(agent: AsgiClient, method: str, **params):
    headers = {"HTTP_MCP_PROTOCOL_VERSION": MODERN, "HTTP_MCP_METHOD": method}
    if "name" in params:
        headers["HTTP_MCP_NAME"] = params["name"]
    return agent.post("/mcp", rpc(method, _meta=META, **params), **headers)


def test_a_warm_tools_list_hops_to_no_thread(agent, thread_hops):
    assert modern(agent, "tools/list").status_code == 200
    assert thread_hops, "a cold call verifies the token and loads the tools in the ORM thread"
    thread_hops.clear()

    listed = modern(agent, "tools/list")

    assert "echo" in {tool["name"] for tool in listed.json()["result"]["tools"]}
    assert thread_hops == []


def test_a_warm_handshake_session_hops_to_no_thread(agent, thread_hops):
    initialize = rpc("initialize", protocolVersion="2025-11-25", capabilities={})
    session = agent.post("/mcp", initialize)["Mcp-Session-Id"]
    in_session = {"HTTP_MCP_SESSION_ID": session, "HTTP_MCP_PROTOCOL_VERSION": "2025-11-25"}
    agent.post("/mcp", rpc("tools/list"), **in_session)
    thread_hops.clear()

    listed = agent.post("/mcp", rpc("tools/list", 2), **in_session)

    assert listed.status_code == 200
    assert listed.json()["result"]["tools"]
    assert thread_hops == []


@needs_redis
def test_a_warm_tools_call_hops_to_no_thread_and_asks_no_database(
    agent, thread_hops, django_assert_num_queries
):
    modern(agent, "tools/call", name="echo", arguments={"path": "/warm"})
    thread_hops.clear()

    with django_assert_num_queries(0):
        called = modern(agent, "tools/call", name="echo", arguments={"path": "/hot"})

    assert called.json()["result"]["isError"] is False
    assert '"path": "/echo/hot"' in called.json()["result"]["content"][0]["text"]
    assert thread_hops == []
