"""Which tools an application sees, how OpenAPI operations become input schemas, tool names."""

from __future__ import annotations

import re

from asgiref.sync import async_to_sync

from apis.mcp import openapi
from apis.mcp.tools import tools_for, unique_name
from tests.factories import ApplicationFactory, SubscriptionFactory
from tests.mcp.conftest import ORDERS_OPENAPI, published_api

SPEC_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def test_operation_parameters_and_body_become_one_schema():
    by_id = {op.operation_id: op for op in openapi.operations(ORDERS_OPENAPI)}

    get_order = by_id["getOrder"].input_schema
    create = by_id["createOrder"]
    assert get_order == {
        "type": "object",
        "properties": {"id": {"type": "string"}},
        "required": ["id"],
    }
    assert create.method == "POST"
    assert create.input_schema["required"] == ["body"]
    assert create.input_schema["properties"]["body"]["required"] == ["sku", "quantity"]


def test_reference_cycles_and_garbage_do_not_break_the_listing():
    document = {
        "paths": {
            "/a": {
                "get": {
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/x"}}}}
                }
            },
            "/b": "not an operation",
        },
        "x": {"$ref": "#/x"},
    }

    [operation] = openapi.operations(document)

    assert operation.operation_id == "get_/a"
    assert operation.input_schema["properties"]["body"] == {}


def test_credentials_are_never_tool_arguments():
    document = {
        "paths": {
            "/a": {
                "get": {
                    "operationId": "a",
                    "parameters": [
                        {"name": "Authorization", "in": "header"},
                        {"name": "X-Tenant", "in": "header"},
                    ],
                }
            }
        }
    }

    [operation] = openapi.operations(document)

    assert list(operation.input_schema["properties"]) == ["X-Tenant"]


def test_names_follow_the_spec_characters_and_stay_unique():
    taken: set[str] = set()
    names: list[str] = []
    for wanted in ("orders.get order/{id}", "orders.get_order__id", "x" * 300, "x" * 300, "???"):
        name = unique_name(wanted, taken)
        taken.add(name)
        names.append(name)

    assert all(SPEC_NAME.match(name) for name in names)
    assert len(set(names)) == len(names)


def test_each_application_sees_only_its_active_subscriptions(db, alice, bob):
    orders = published_api("orders", "http://127.0.0.1:9/", openapi=ORDERS_OPENAPI)
    echo = published_api("echo", "http://127.0.0.1:9/")
    mine, theirs = ApplicationFactory(owner=alice), ApplicationFactory(owner=bob)
    SubscriptionFactory(application=mine, api=orders, plan=orders.plans.get())
    SubscriptionFactory(application=theirs, api=echo, plan=echo.plans.get())
    SubscriptionFactory(application=mine, api=echo, plan=echo.plans.get(), status="revoked")

    assert {tool.api_slug for tool in async_to_sync(tools_for)(mine.pk)} == {"orders"}
    assert [tool.name for tool in async_to_sync(tools_for)(theirs.pk)] == ["echo"]
