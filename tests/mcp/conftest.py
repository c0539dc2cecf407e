"""Fixtures of the MCP tests: a live server, a loopback upstream, APIs alice's app subscribes to."""

from __future__ import annotations

import pytest

from apis.ai.services import provider_save
from apis.mcp.snapshots import snapshot_refresh
from apis.services import api_set_upstream_credential, api_transition
from tests.ai.fakes import FakeProvider
from tests.factories import ApiFactory, ApplicationFactory, PlanFactory, SubscriptionFactory
from tests.mcp.upstreams import McpUpstream
from tests.servers import Upstream
from tests.tokens import token_for

ORDERS_OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Orders", "version": "1"},
    "servers": [{"url": "http://orders.internal:8080/v1"}],
    "paths": {
        "/orders": {
            "get": {
                "operationId": "listOrders",
                "summary": "List orders",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}}
                ],
            },
            "post": {
                "operationId": "createOrder",
                "summary": "Create an order",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Order"}}
                    },
                },
            },
        },
        "/orders/{id}": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": {"operationId": "getOrder", "summary": "Fetch one order"},
        },
    },
    "components": {
        "schemas": {
            "Order": {
                "type": "object",
                "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer"}},
                "required": ["sku", "quantity"],
            }
        }
    },
}


@pytest.fixture
def upstream():
    with Upstream() as server:
        yield server


def published_api(slug: str, upstream_url: str, **fields):
    """A published REST API with one plan ('basic'), open to subscriptions."""
    plan_fields = fields.pop("plan", {})
    api = ApiFactory(slug=slug, name=slug.title(), upstream_url=upstream_url, **fields)
    PlanFactory(api=api, name="basic", **{"rate_limit": "1000/m", **plan_fields})
    api_transition(api=api, to="published", actor=None)
    return api


@pytest.fixture
def orders(transactional_db, upstream):
    return published_api("orders", f"{upstream.url}/base", openapi=ORDERS_OPENAPI)


@pytest.fixture
def echo(transactional_db, upstream):
    return published_api("echo", f"{upstream.url}/echo")


@pytest.fixture
def vault(transactional_db, upstream, bob):
    """An API only bob's application subscribes to."""
    api = published_api("vault", f"{upstream.url}/vault")
    SubscriptionFactory(application=ApplicationFactory(owner=bob), api=api, plan=api.plans.get())
    return api


@pytest.fixture
def application(alice):
    return ApplicationFactory(owner=alice, name="alice-agent")


@pytest.fixture
def subscribed(application, orders, echo, vault):
    """alice's application holds active subscriptions to orders and echo, not to vault."""
    for api in (orders, echo):
        SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    return application


@pytest.fixture
def token(subscribed) -> str:
    return token_for(subscribed)


@pytest.fixture
def mcp_url(live_server) -> str:
    return f"{live_server.url}/mcp"


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
def agent_app(alice, tools_api):
    """alice's application, subscribed to the tools API."""
    app = ApplicationFactory(owner=alice, name="alice-agent")
    SubscriptionFactory(application=app, api=tools_api, plan=tools_api.plans.get())
    return app


@pytest.fixture
def tools_token(agent_app) -> str:
    return token_for(agent_app)


@pytest.fixture
def provider(transactional_db):
    with FakeProvider("openai") as fake:
        yield provider_save(
            name="fake-openai",
            kind="openai",
            base_url=fake.base_url,
            api_key="sk-provider-secret",
            models=[{"name": "ok-model", "input_cost_per_mtok": "2", "output_cost_per_mtok": "8"}],
        )
