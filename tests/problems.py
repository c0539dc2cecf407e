"""Assertions on RFC 9457 problem+json answers, shared by the API tests."""

from __future__ import annotations

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:
    """The response is an RFC 9457 problem with `status` and every member; returns its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    assert body["title"] and body["type"]
    return body
