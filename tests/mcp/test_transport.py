"""The Streamable HTTP transport as raw HTTP: sessions, versions, headers, errors, auth, Origin."""

from __future__ import annotations

import json

import httpx
import pytest
from django.test import override_settings

from keys.conf import keys_settings
from keys.services import application_delete
from tests.factories import ApplicationFactory
from tests.tokens import token_for

MODERN = "2026-07-28"
ACCEPT = "application/json, text/event-stream"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}


def rpc(method: str, request_id: int | None = 1, **params) -> dict:
    message = {"jsonrpc": "2.0", "method": method}
    if request_id is not None:
        message["id"] = request_id
    if params:
        message["params"] = params
    return message


def post(url: str, token: str | None, body, **headers) -> httpx.Response:
    sent = {"Accept": ACCEPT, "Content-Type": "application/json", **headers}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(url, content=content, headers=sent, timeout=30)


def modern(url: str, token: str, method: str, **params) -> httpx.Response:
    headers = {"MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if "name" in params:
        headers["Mcp-Name"] = params["name"]
    return post(url, token, rpc(method, _meta=META, **params), **headers)


def open_session(url: str, token: str) -> str:
    answer = post(url, token, rpc("initialize", protocolVersion="2025-06-18", capabilities={}))
    assert answer.status_code == 200
    assert answer.json()["result"]["protocolVersion"] == "2025-06-18"
    session = answer.headers["Mcp-Session-Id"]
    notified = post(
        url, token, rpc("notifications/initialized", None), **{"Mcp-Session-Id": session}
    )
    assert notified.status_code == 202
    return session


def test_without_token_401_points_to_the_protected_resource_metadata(mcp_url, live_server, orders):
    answer = post(mcp_url, None, rpc("initialize", protocolVersion="2025-11-25", capabilities={}))

    assert answer.status_code == 401
    metadata_url = f"{live_server.url}/.well-known/oauth-protected-resource"
    assert answer.headers["WWW-Authenticate"] == f'Bearer resource_metadata="{metadata_url}"'
    metadata = httpx.get(metadata_url).json()
    assert metadata["resource"] == f"{live_server.url}/mcp"
    assert metadata["authorization_servers"] == [keys_settings.ISSUER]
    assert metadata["bearer_methods_supported"] == ["header"]
    assert metadata["scopes_supported"] == ["orders"]


def test_garbage_token_is_refused_as_invalid(mcp_url, subscribed):
    answer = post(mcp_url, "not-a-token", rpc("ping"))

    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    assert "resource_metadata=" in answer.headers["WWW-Authenticate"]


def test_token_for_another_audience_is_refused(mcp_url, subscribed):
    elsewhere = {"KEYS": {"AUDIENCE": "https://elsewhere.example/api"}}
    with override_settings(PORTCULLIS=elsewhere):
        foreign = token_for(subscribed)

    answer = post(mcp_url, foreign, rpc("initialize", protocolVersion="2025-11-25"))

    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_a_deleted_applications_token_opens_no_session(mcp_url, subscribed, live_server):
    token = token_for(subscribed)
    application_delete(application=subscribed)

    answer = post(mcp_url, token, rpc("initialize", protocolVersion="2025-11-25", capabilities={}))

    assert answer.status_code == 401
    assert "Mcp-Session-Id" not in answer.headers
    metadata_url = f"{live_server.url}/.well-known/oauth-protected-resource"
    assert answer.headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", '
        'error_description="The token\'s application no longer exists.", '
        f'resource_metadata="{metadata_url}"'
    )


@pytest.mark.parametrize("subscriptions", ["with subscriptions", "without any"])
def test_a_warm_token_is_refused_once_its_application_is_deleted(
    mcp_url, subscribed, bob, settings, subscriptions
):
    # The process re-reads the catalog version on every call, so no wait for LOOKUP_REFRESH.
    settings.PORTCULLIS = {**settings.PORTCULLIS, "GATEWAY": {"LOOKUP_REFRESH": 0}}
    application = (
        subscribed if subscriptions == "with subscriptions" else ApplicationFactory(owner=bob)
    )
    token = token_for(application)
    session = open_session(mcp_url, token)
    assert post(mcp_url, token, rpc("tools/list"), **{"Mcp-Session-Id": session}).status_code == 200

    application_delete(application=application)

    listed = post(mcp_url, token, rpc("tools/list"), **{"Mcp-Session-Id": session})
    assert listed.status_code == 401
    assert 'error="invalid_token"' in listed.headers["WWW-Authenticate"]
    assert modern(mcp_url, token, "tools/list").status_code == 401


def test_a_message_over_the_body_limit_is_413_with_a_jsonrpc_error(mcp_url, token, settings):
    settings.PORTCULLIS = {**settings.PORTCULLIS, "MCP": {"BODY_LIMIT": 1000}}
    padding = "x" * 1000

    answer = modern(mcp_url, token, "tools/call", name="echo", arguments={"body": padding})

    assert answer.status_code == 413
    assert answer.json()["id"] is None
    assert answer.json()["error"]["code"] == -32600
    assert "1000 bytes" in answer.json()["error"]["message"]
    assert modern(mcp_url, token, "tools/list").status_code == 200


def test_initialize_offers_our_newest_version_for_an_unknown_one(mcp_url, token):
    answer = post(mcp_url, token, rpc("initialize", protocolVersion="2099-01-01", capabilities={}))

    result = answer.json()["result"]
    assert result["protocolVersion"] == "2025-11-25"
    assert result["capabilities"] == {
        "tools": {"listChanged": False},
        "resources": {"subscribe": False, "listChanged": False},
        "prompts": {"listChanged": False},
        "completions": {},
    }
    assert result["serverInfo"]["name"] == "portcullis"


def test_session_answers_ping_and_ends_on_delete(mcp_url, token):
    session = open_session(mcp_url, token)
    headers = {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-06-18"}

    assert post(mcp_url, token, rpc("ping", 7), **headers).json() == {
        "jsonrpc": "2.0",
        "id": 7,
        "result": {},
    }
    ended = httpx.delete(mcp_url, headers={**headers, "Authorization": f"Bearer {token}"})
    assert ended.status_code == 204
    after = post(mcp_url, token, rpc("tools/list"), **headers)
    assert after.status_code == 404


def test_request_without_session_is_400_and_unknown_session_404(mcp_url, token):
    assert post(mcp_url, token, rpc("tools/list")).status_code == 400
    unknown = post(mcp_url, token, rpc("tools/list"), **{"Mcp-Session-Id": "nope"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == -32600


def test_another_applications_token_cannot_use_the_session(mcp_url, token, bob):
    session = open_session(mcp_url, token)
    intruder = token_for(ApplicationFactory(owner=bob))

    answer = post(mcp_url, intruder, rpc("tools/list"), **{"Mcp-Session-Id": session})

    assert answer.status_code == 404


def test_unknown_protocol_version_header_is_400(mcp_url, token):
    session = open_session(mcp_url, token)

    answer = post(
        mcp_url,
        token,
        rpc("tools/list"),
        **{"Mcp-Session-Id": session, "MCP-Protocol-Version": "1999-01-01"},
    )

    assert answer.status_code == 400


def test_unknown_method_is_a_jsonrpc_method_not_found(mcp_url, token):
    session = open_session(mcp_url, token)

    answer = post(mcp_url, token, rpc("sampling/createMessage", 3), **{"Mcp-Session-Id": session})

    assert answer.json()["error"]["code"] == -32601
    assert answer.json()["id"] == 3


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"{not json", -32700), (b"[]", -32600), (b'{"jsonrpc": "1.0", "method": "x"}', -32600)],
)
def test_malformed_bodies_are_jsonrpc_errors_with_400(mcp_url, token, body, code):
    answer = post(mcp_url, token, body)

    assert answer.status_code == 400
    assert answer.json() == {"jsonrpc": "2.0", "id": None, "error": answer.json()["error"]}
    assert answer.json()["error"]["code"] == code


def test_client_that_asks_for_sse_gets_one_event(mcp_url, token):
    session = open_session(mcp_url, token)

    answer = post(
        mcp_url, token, rpc("ping", 9), Accept="text/event-stream", **{"Mcp-Session-Id": session}
    )

    assert answer.headers["Content-Type"].startswith("text/event-stream")
    event, data = answer.text.strip().split("\n")
    assert event == "event: message"
    assert json.loads(data.removeprefix("data: ")) == {"jsonrpc": "2.0", "id": 9, "result": {}}


def test_foreign_origin_is_refused(mcp_url, token):
    answer = post(mcp_url, token, rpc("ping"), Origin="http://evil.example.com")

    assert answer.status_code == 403


def test_own_origin_is_accepted(mcp_url, token, live_server):
    answer = post(
        mcp_url,
        token,
        rpc("initialize", protocolVersion="2025-11-25", capabilities={}),
        Origin=live_server.url,
    )

    assert answer.status_code == 200


def test_an_allowed_foreign_origin_is_accepted(mcp_url, token, settings):
    inspector = "http://localhost:6274"
    settings.PORTCULLIS = {**settings.PORTCULLIS, "MCP": {"ALLOWED_ORIGINS": [inspector]}}
    initialize = rpc("initialize", protocolVersion="2025-11-25", capabilities={})

    assert post(mcp_url, token, initialize, Origin=inspector).status_code == 200
    assert post(mcp_url, token, initialize, Origin="http://localhost:6275").status_code == 403


def test_handshake_era_get_has_no_stream(mcp_url, token):
    session = open_session(mcp_url, token)

    answer = httpx.get(mcp_url, headers={"Mcp-Session-Id": session, "Accept": "text/event-stream"})

    assert answer.status_code == 405
    assert "POST" in answer.headers["Allow"]


def test_modern_get_and_delete_answer_405(mcp_url, token):
    headers = {"MCP-Protocol-Version": MODERN, "Authorization": f"Bearer {token}"}

    assert httpx.get(mcp_url, headers=headers).status_code == 405
    deleted = httpx.delete(mcp_url, headers=headers)
    assert deleted.status_code == 405
    assert deleted.headers["Allow"] == "POST"


def test_modern_discover_needs_no_handshake(mcp_url, token):
    answer = modern(mcp_url, token, "server/discover")

    result = answer.json()["result"]
    assert "Mcp-Session-Id" not in answer.headers
    assert result["supportedVersions"] == [MODERN]
    assert result["resultType"] == "complete"
    assert result["capabilities"]["tools"] == {"listChanged": False}


def test_modern_tools_list_carries_cache_hints(mcp_url, token):
    result = modern(mcp_url, token, "tools/list").json()["result"]

    assert result["resultType"] == "complete"
    assert result["cacheScope"] == "private"
    assert result["ttlMs"] >= 0
    assert "echo" in {tool["name"] for tool in result["tools"]}


def test_modern_method_header_must_match_the_body(mcp_url, token):
    answer = post(
        mcp_url,
        token,
        rpc("tools/list", _meta=META),
        **{"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call"},
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == -32020


def test_modern_name_header_must_match_the_tool(mcp_url, token):
    answer = post(
        mcp_url,
        token,
        rpc("tools/call", _meta=META, name="echo", arguments={}),
        **{"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "vault"},
    )

    assert answer.json()["error"]["code"] == -32020


def test_modern_request_without_meta_is_invalid_params(mcp_url, token):
    answer = post(
        mcp_url,
        token,
        rpc("tools/list"),
        **{"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"},
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == -32602


def test_unsupported_version_names_the_supported_ones(mcp_url, token):
    meta = {**META, "io.modelcontextprotocol/protocolVersion": "2030-01-01"}
    answer = post(
        mcp_url,
        token,
        rpc("tools/list", _meta=meta),
        **{"MCP-Protocol-Version": "2030-01-01", "Mcp-Method": "tools/list"},
    )

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == -32022
    assert error["data"] == {"supported": [MODERN], "requested": "2030-01-01"}


def test_modern_unknown_method_is_404(mcp_url, token):
    answer = modern(mcp_url, token, "ping")

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == -32601


def test_modern_notification_is_acknowledged(mcp_url, token):
    answer = post(
        mcp_url, token, rpc("notifications/cancelled", None), **{"MCP-Protocol-Version": MODERN}
    )

    assert answer.status_code == 202
