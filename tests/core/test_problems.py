"""Every JSON error is application/problem+json (RFC 9457), whatever went wrong."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


def test_malformed_json_is_400_problem(staff_client):
    response = staff_client.post(
        "/api/v1/apis/", data='{"slug": "x",', content_type="application/json"
    )
    assert "JSON" in assert_problem(response, 400)["detail"]


def test_a_json_body_that_is_not_an_object_is_400_problem(alice_client):
    response = alice_client.post("/api/v1/apps/", data="[1, 2]", content_type="application/json")
    assert assert_problem(response, 400)["errors"]


def test_unknown_fields_are_named(alice_client):
    body = assert_problem(
        alice_client.post("/api/v1/apps/", {"name": "a", "colour": "red"}, format="json"), 400
    )
    assert body["errors"] == {"colour": ["Unknown or read-only field."]}
    assert "colour" in body["detail"]


def test_wrong_types_are_named(staff_client):
    body = assert_problem(
        staff_client.post(
            "/api/v1/apis/",
            {"slug": "s", "name": "n", "kind": "ai", "model": "p/m", "cache_ttl": "soon"},
            format="json",
        ),
        400,
    )
    assert "cache_ttl" in body["errors"]


def test_nested_errors_are_named_by_path(staff_client):
    body = assert_problem(
        staff_client.post(
            "/api/v1/apis/",
            {"slug": "s", "name": "n", "kind": "ai", "model": "p/m", "tags": ["ok", "not ok"]},
            format="json",
        ),
        400,
    )
    assert list(body["errors"]) == ["tags.1"]


def test_unsupported_media_type_is_415_problem(alice_client):
    response = alice_client.post("/api/v1/apps/", data="name=x", content_type="text/plain")
    assert_problem(response, 415)


def test_wrong_method_is_405_problem_with_allow(alice_client):
    response = alice_client.delete("/api/v1/subscriptions/")
    assert_problem(response, 405)
    assert "GET" in response["Allow"]


def test_unknown_management_path_is_404_problem(alice_client):
    body = assert_problem(alice_client.get("/api/v1/no-such-thing/"), 404)
    assert "/api/v1/no-such-thing/" in body["detail"]


def test_unknown_portal_page_stays_html(alice_client):
    response = alice_client.get("/no-such-page/", HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/apis/"),
        ("post", "/api/v1/apis/"),
        ("get", "/api/v1/apis/any/"),
        ("patch", "/api/v1/apis/any/"),
        ("post", "/api/v1/apis/any/transition/"),
        ("get", "/api/v1/apis/any/history/"),
        ("get", "/api/v1/apis/any/plans/"),
        ("post", "/api/v1/apis/any/plans/"),
        ("get", "/api/v1/apps/"),
        ("post", "/api/v1/apps/"),
        ("get", "/api/v1/apps/1/"),
        ("delete", "/api/v1/apps/1/"),
        ("post", "/api/v1/apps/1/rotate-secret/"),
        ("get", "/api/v1/subscriptions/"),
        ("post", "/api/v1/subscriptions/"),
        ("get", "/api/v1/subscriptions/1/"),
        ("post", "/api/v1/subscriptions/1/approve/"),
        ("post", "/api/v1/subscriptions/1/reject/"),
        ("post", "/api/v1/subscriptions/1/revoke/"),
    ],
)
def test_anonymous_is_401_problem_on_every_endpoint(anon_client, method, path):
    response = getattr(anon_client, method)(path, {}, format="json")
    assert_problem(response, 401)
    assert 'Bearer realm="api"' in response["WWW-Authenticate"]


def test_staff_only_endpoint_is_403_problem(alice_client):
    assert_problem(alice_client.post("/api/v1/apis/", {}, format="json"), 403)


def test_session_post_without_csrf_token_is_403_problem(alice):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    body = assert_problem(client.post("/api/v1/apps/", {"name": "x"}, format="json"), 403)
    assert "CSRF" in body["detail"]


@pytest.mark.urls("tests.core.urls")
def test_project_errors_keep_their_status_title_type_headers_and_members(anon_client):
    response = anon_client.get("/api/v1/test-teapot/")
    body = assert_problem(response, 418)
    assert body == {
        "type": "https://portcullis.example/problems/teapot",
        "title": "I'm a teapot",
        "status": 418,
        "detail": "Short and stout.",
        "brewing": True,
    }
    assert response["X-Spout"] == "1"


@pytest.mark.urls("tests.core.urls")
def test_a_crash_is_500_problem_without_internals():
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/v1/test-crash/")
    body = assert_problem(response, 500)
    assert "secret internal detail" not in response.content.decode()
    assert "Traceback" not in body["detail"]


@pytest.mark.urls("tests.core.urls")
def test_a_crash_on_a_portal_page_stays_html():
    client = APIClient(raise_request_exception=False)
    response = client.get("/portal-crash/", HTTP_ACCEPT="text/html")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert "secret internal detail" not in response.content.decode()


def test_nul_character_in_a_json_string_is_400_problem(staff_client):
    response = staff_client.post(
        "/api/v1/apis/", data='{"slug": "a\\u0000b"}', content_type="application/json"
    )
    assert "NUL" in assert_problem(response, 400)["detail"]


def test_nul_character_in_a_json_key_is_400_problem(staff_client):
    response = staff_client.post(
        "/api/v1/apis/", data='{"sl\\u0000ug": "a"}', content_type="application/json"
    )
    assert "NUL" in assert_problem(response, 400)["detail"]


def test_nul_character_in_a_search_never_fails_with_500(staff_client, client):
    api_search = staff_client.get("/api/v1/apis/?q=a%00b")
    portal_search = client.get("/?q=a%00b")

    # PostgreSQL cannot compare text holding NUL: 400 there; SQLite simply finds nothing.
    if connection.vendor == "postgresql":
        assert_problem(api_search, 400)
        assert portal_search.status_code == 400
        assert "text/html" in portal_search["Content-Type"]
    else:
        assert (api_search.status_code, portal_search.status_code) == (200, 200)
