"""The demo upstream under /demo-upstream/: an echo, the time and a few items, as JSON."""

from __future__ import annotations

import pytest
from django.test import Client

PROBLEM = "application/problem+json"


@pytest.fixture
def client() -> Client:
    # The gateway posts without a CSRF token; the demo upstream must take it like any upstream.
    return Client(enforce_csrf_checks=True)


def test_echo_answers_with_the_request_it_received(client):
    response = client.post(
        "/demo-upstream/echo/orders/7?page=2&tag=a&tag=b",
        data=b'{"qty": 3}',
        content_type="application/json",
        headers={"X-Request-ID": "abc-123"},
    )

    assert response.status_code == 200
    echoed = response.json()
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/demo-upstream/echo/orders/7"
    assert echoed["query"] == {"page": ["2"], "tag": ["a", "b"]}
    assert echoed["headers"]["X-Request-Id"] == "abc-123"
    assert echoed["body"] == {"qty": 3}


def test_echo_never_reflects_credentials(client):
    client.cookies["sessionid"] = "s3cret-session"
    response = client.get("/demo-upstream/echo", headers={"Authorization": "Bearer s3cret-token"})

    assert response.status_code == 200
    assert "s3cret" not in response.text
    assert "Authorization" not in response.json()["headers"]


def test_echo_keeps_a_text_body_as_text(client):
    response = client.put("/demo-upstream/echo", data="plain words", content_type="text/plain")

    assert response.json()["body"] == "plain words"


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b'{"qty": ', "not valid JSON"), (b"\xff\xfe", "not UTF-8")],
)
def test_echo_answers_bad_bodies_with_a_problem(client, body, reason):
    response = client.post("/demo-upstream/echo", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert reason in response.json()["detail"]


def test_time_is_given_in_the_requested_zone(client):
    utc = client.get("/demo-upstream/time").json()
    kolkata = client.get("/demo-upstream/time", {"tz": "Asia/Kolkata"}).json()

    assert utc["tz"] == "UTC" and utc["time"].endswith("+00:00")
    assert kolkata["tz"] == "Asia/Kolkata" and kolkata["time"].endswith("+05:30")


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "", "x" * 300])
def test_unknown_time_zone_is_a_problem(client, zone):
    response = client.get("/demo-upstream/time", {"tz": zone})

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert "IANA" in response.json()["detail"]


def test_items_are_listed_and_found_by_id(client):
    listing = client.get("/demo-upstream/items").json()
    item = client.get("/demo-upstream/items/2").json()

    assert [entry["id"] for entry in listing["items"]] == [1, 2, 3]
    assert item["name"] == "Drawbridge"


@pytest.mark.parametrize(("item_id", "status"), [("99", 404), ("abc", 400), ("-1", 400)])
def test_bad_item_ids_are_problems(client, item_id, status):
    response = client.get(f"/demo-upstream/items/{item_id}")

    assert response.status_code == status
    assert response["Content-Type"] == PROBLEM
    assert item_id.lstrip("-") in response.json()["detail"]


def test_index_lists_the_endpoints(client):
    endpoints = client.get("/demo-upstream/").json()["endpoints"]

    assert "/demo-upstream/items/<id>" in endpoints
