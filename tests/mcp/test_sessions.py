"""Handshake-era sessions live in the shared cache: any gateway process serves any session."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.mcp.test_transport import open_session, post, rpc
from tests.servers import GatewayServer

needs_shared_state = pytest.mark.skipif(
    not settings.REDIS_URL
    or settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="needs Redis and PostgreSQL shared by separate server processes",
)


@needs_shared_state
def test_a_session_opened_on_one_server_is_served_by_another(transactional_db, token):
    with GatewayServer(env={}) as first, GatewayServer(env={}) as second:
        session = open_session(f"{first.url}/mcp", token)

        listed = post(f"{second.url}/mcp", token, rpc("tools/list"), **{"Mcp-Session-Id": session})

    assert listed.status_code == 200
    assert "echo" in {tool["name"] for tool in listed.json()["result"]["tools"]}
