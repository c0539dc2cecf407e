"""Upstream targets through the management API: staff set them, developers never see them."""

from __future__ import annotations

import pytest

from apis.catalog_document import catalog_apply, catalog_export, catalog_plan
from apis.models import Api
from apis.services import api_transition
from tests.factories import PlanFactory
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db

BALANCED = {
    "slug": "ledger",
    "name": "Ledger",
    "kind": "rest",
    "targets": [
        {"url": "http://10.0.0.1:8080/v1", "weight": 3},
        {"url": "http://10.0.0.2:8080/v1", "weight": 1},
    ],
    "balancing": "least_in_flight",
    "health_path": "/healthz",
    "failure_statuses": [502, 503],
    "circuit_failures": 3,
}


def test_staff_create_a_rest_api_with_targets_instead_of_an_upstream_url(staff_client):
    created = staff_client.post("/api/v1/apis/", BALANCED, format="json")
    shown = staff_client.get("/api/v1/apis/ledger/").json()

    assert created.status_code == 201, created.content
    assert shown["targets"] == BALANCED["targets"]
    assert shown["upstream_url"] == ""
    assert (shown["balancing"], shown["health_path"]) == ("least_in_flight", "/healthz")
    assert (shown["failure_statuses"], shown["circuit_failures"]) == ([502, 503], 3)


def test_a_patch_replaces_the_targets(staff_client):
    staff_client.post("/api/v1/apis/", BALANCED, format="json")

    patched = staff_client.patch(
        "/api/v1/apis/ledger/", {"targets": [{"url": "http://10.0.0.9/"}]}, format="json"
    )

    assert patched.json()["targets"] == [{"url": "http://10.0.0.9/", "weight": 1}]


def test_a_rest_api_needs_an_upstream_url_or_targets(staff_client):
    api = {**BALANCED, "targets": []}

    body = assert_problem(staff_client.post("/api/v1/apis/", api, format="json"), 400)

    assert "upstream_url" in str(body)


@pytest.mark.parametrize(
    "change",
    [
        {"targets": [{"url": "http://10.0.0.1/", "weight": 0}]},
        {"targets": [{"url": "http://10.0.0.1/", "weight": 1001}]},
        {"targets": [{"url": "not a url"}]},
        {"targets": [{"url": "http://10.0.0.1/"}] * 51},
        {"failure_statuses": [404]},
        {"circuit_cool_down": 0},
        {"health_path": "healthz"},
    ],
)
def test_bad_target_settings_are_refused(staff_client, change):
    assert_problem(staff_client.post("/api/v1/apis/", {**BALANCED, **change}, format="json"), 400)


def test_developers_never_see_the_targets(staff_client, alice_client):
    staff_client.post("/api/v1/apis/", BALANCED, format="json")
    api = Api.objects.get(slug="ledger")
    PlanFactory(api=api)
    api_transition(api=api, to="published", actor=None)

    shown = alice_client.get("/api/v1/apis/ledger/").json()

    assert "targets" not in shown
    assert "health_path" not in shown


def test_the_catalog_document_carries_the_targets_both_ways(staff_client):
    staff_client.post("/api/v1/apis/", BALANCED, format="json")
    entry = next(e for e in catalog_export()["apis"] if e["slug"] == "ledger")
    Api.objects.filter(slug="ledger").delete()

    catalog_apply(catalog_plan({"version": 1, "apis": [entry]}))

    api = Api.objects.get(slug="ledger")
    assert entry["targets"] == BALANCED["targets"]
    assert [(t.url, t.weight) for t in api.targets.order_by("id")] == [
        (t["url"], t["weight"]) for t in BALANCED["targets"]
    ]
    assert (api.balancing, api.circuit_failures) == ("least_in_flight", 3)
