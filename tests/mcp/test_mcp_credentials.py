"""The portal and MCP servers: each developer's own credential, stored write-only; the tools."""

from __future__ import annotations

import pytest
from django.test import Client

from apis.models import McpSnapshot, UpstreamCredential
from apis.tasks import mcp_snapshots_refresh
from tests.factories import ApplicationFactory, SubscriptionFactory
from tests.mcp.agents import with_client
from tests.mcp.conftest import mcp_api
from tests.tokens import token_for


@pytest.fixture
def own_credential_api(transactional_db, upstream_server):
    """An MCP server whose every caller brings their own credential (staff's is for snapshots)."""
    return mcp_api(
        "personal",
        upstream_server.url,
        allowed_tools=["*"],
        credential="staff-secret",
        credential_per_application=True,
    )


def _subscribed(owner, api, name):
    application = ApplicationFactory(owner=owner, name=name)
    SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    return application


def _echo(url: str, application) -> object:
    async def work(client):
        return await client.call_tool("personal.echo", {"text": "hi"})

    return with_client(f"{url}/mcp", token_for(application), "2026-07-28", work)


def _portal(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_call_without_the_developers_credential_is_refused_naming_the_api(
    live_server, own_credential_api, alice, upstream_server
):
    result = _echo(live_server.url, _subscribed(alice, own_credential_api, "a"))

    assert result.is_error is True
    assert "'personal' needs your own credential" in result.content[0].text
    assert "tools/call" not in upstream_server.methods()


def test_each_developer_calls_with_their_own_credential_set_in_the_portal(
    live_server, own_credential_api, alice, bob, upstream_server
):
    alices, bobs = (
        _subscribed(alice, own_credential_api, "a"),
        _subscribed(bob, own_credential_api, "b"),
    )
    for user, application, secret in ((alice, alices, "alice-secret"), (bob, bobs, "bob-secret")):
        page = _portal(user).post(
            f"/apps/{application.pk}/mcp/", {"api": "personal", "credential": secret}
        )
        assert page.status_code == 302

    assert _echo(live_server.url, alices).is_error is False
    assert _echo(live_server.url, bobs).is_error is False
    assert upstream_server.credentials("tools/call") == ["Bearer alice-secret", "Bearer bob-secret"]
    caller_tokens = {token_for(alices), token_for(bobs)}
    seen = {headers.get("authorization", "") for _, headers in upstream_server.requests}
    assert not {f"Bearer {token}" for token in caller_tokens} & seen


def test_the_portal_shows_set_or_unset_and_never_the_credential(own_credential_api, alice):
    application = _subscribed(alice, own_credential_api, "a")
    portal = _portal(alice)

    before = portal.get(f"/apps/{application.pk}/mcp/").content.decode()
    portal.post(f"/apps/{application.pk}/mcp/", {"api": "personal", "credential": "alice-secret"})
    after = portal.get(f"/apps/{application.pk}/mcp/").content.decode()

    assert "not set" in before
    assert "not set" not in after and ">set<" in after
    assert "alice-secret" not in after
    stored = UpstreamCredential.objects.get(application=application)
    assert "alice-secret" not in stored.sealed


def test_nobody_stores_a_credential_for_another_developers_application(
    own_credential_api, alice, bob
):
    application = _subscribed(alice, own_credential_api, "a")

    answer = _portal(bob).post(
        f"/apps/{application.pk}/mcp/", {"api": "personal", "credential": "bob-secret"}
    )

    assert answer.status_code == 404
    assert not UpstreamCredential.objects.exists()


def test_the_portal_page_of_an_mcp_api_shows_its_tools_and_which_plan_grants_them(tools_api):
    page = Client().get("/apis/tools/").content.decode()

    assert "<code>tools.echo</code>" in page
    assert "<code>tools.wipe</code>" in page
    assert "/gw/tools/mcp" in page


def test_the_scheduled_task_refreshes_every_snapshot(tools_api, upstream_server):
    McpSnapshot.objects.filter(api=tools_api).update(tools=[])

    assert mcp_snapshots_refresh() == 1
    assert len(McpSnapshot.objects.get(api=tools_api).tools) == 4
