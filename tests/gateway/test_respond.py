"""What every gateway answer looks like: request ids, error bodies per API kind, methods."""

from __future__ import annotations

import pytest

from apis.services import api_transition
from tests.asgi import AsgiClient
from tests.factories import ApiFactory, PlanFactory
from tests.gateway.reading import body_of, json_of


@pytest.fixture
def ai_api(db):
    api = ApiFactory(slug="chat", kind="ai", model="demo/echo", upstream_url="")
    PlanFactory(api=api)
    api_transition(api=api, to="published", actor=None)
    return api


def test_ai_api_errors_use_openais_error_envelope(ai_api):
    response = AsgiClient().post("/gw/chat/chat/completions", data={}, format="json")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    error = json_of(response)["error"]
    assert error["type"] == "authentication_error"
    assert error["code"] == "invalid_token"
    assert error["message"]


def test_rest_api_errors_are_problem_json(api):
    response = AsgiClient().get("/gw/orders/x")

    problem = json_of(response)
    assert response["Content-Type"] == "application/problem+json"
    assert set(problem) >= {"type", "title", "status", "detail"}


def test_every_answer_carries_a_request_id(gw):
    ok, refused = gw.get("/gw/orders/x"), gw.get("/gw/nothing-here/x")

    assert len(ok["X-Request-ID"]) == 32
    assert len(refused["X-Request-ID"]) == 32
    assert ok["X-Request-ID"] != refused["X-Request-ID"]


@pytest.mark.parametrize("method", ["put", "patch", "delete", "options"])
def test_every_method_is_forwarded(gw, method):
    response = getattr(gw, method)("/gw/orders/x")

    assert json_of(response)["method"] == method.upper()


def test_head_is_forwarded_without_a_body(gw):
    response = gw.head("/gw/orders/bytes/5000")

    assert response.status_code == 200
    assert response["Content-Length"] == "5000"
    assert body_of(response) == b""


def test_upstream_answers_do_not_get_the_portals_content_security_policy(gw, client):
    assert "Content-Security-Policy" in client.get("/")

    answer = gw.get("/gw/orders/headers?Content-Type=text/html")

    assert "Content-Security-Policy" not in answer


def test_upstream_allow_and_vary_reach_the_client_unchanged(gw):
    answer = gw.get("/gw/orders/headers?Allow=GET&Vary=Origin")

    assert answer["Allow"] == "GET"
    assert answer["Vary"] == "Origin"
