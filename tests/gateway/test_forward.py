"""Forwarding to a REST upstream: what the upstream receives and what the client gets back."""

from __future__ import annotations

import socket
import time
from types import SimpleNamespace

import pytest
from django.test import override_settings

from apis.models import Api
from apis.services import api_set_upstream_credential
from tests.gateway.reading import json_of
from tests.polling import eventually
from tests.servers import CountingUpstream, free_port


def test_upstream_receives_path_query_and_body_under_its_prefix(gw, upstream):
    response = gw.post(
        "/gw/orders/v2/items?limit=5&sort=-id",
        data=b'{"sku": 7}',
        content_type="application/json",
    )

    assert response.status_code == 200
    echo = json_of(response)
    assert echo["method"] == "POST"
    assert echo["path"] == "/base/v2/items?limit=5&sort=-id"
    assert echo["body_size"] == len(b'{"sku": 7}')
    assert echo["headers"]["Content-Type"] == "application/json"


def test_the_clients_own_headers_reach_the_upstream_named_as_sent(gw):
    echo = json_of(
        gw.get("/gw/orders/x", HTTP_X_CLIENT_TRACE="t-1", HTTP_ACCEPT_LANGUAGE="pt, en;q=0.5")
    )

    assert echo["headers"]["X-Client-Trace"] == "t-1"
    assert echo["headers"]["Accept-Language"] == "pt, en;q=0.5"


def test_client_authorization_is_never_forwarded(gw):
    echo = json_of(gw.get("/gw/orders/x"))

    assert "Authorization" not in echo["headers"]
    assert "authorization" not in {name.lower() for name in echo["headers"]}


def test_hop_by_hop_headers_are_dropped(gw):
    echo = json_of(
        gw.get("/gw/orders/x", HTTP_CONNECTION="close, X-Private", HTTP_X_PRIVATE="1", HTTP_TE="x")
    )

    sent = {name.lower() for name in echo["headers"]}
    assert "x-private" not in sent
    assert "te" not in sent


def test_forwarding_headers_request_id_and_trace_reach_the_upstream(gw):
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = gw.get(
        "/gw/orders/x",
        HTTP_X_REQUEST_ID="client-req-42",
        HTTP_TRACEPARENT=trace,
        HTTP_HOST="testserver",
    )

    headers = json_of(response)["headers"]
    assert headers["X-Request-ID"] == "client-req-42"
    assert response["X-Request-ID"] == "client-req-42"
    assert headers["traceparent"] == trace
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Forwarded-Host"] == "testserver"


def test_invalid_request_id_is_replaced_and_a_trace_is_started(gw):
    response = gw.get("/gw/orders/x", HTTP_X_REQUEST_ID="bad id\twith spaces")

    headers = json_of(response)["headers"]
    assert response["X-Request-ID"] != "bad id\twith spaces"
    assert headers["X-Request-ID"] == response["X-Request-ID"]
    assert headers["traceparent"].startswith("00-")


@override_settings(PORTCULLIS={"GATEWAY": {"TRUSTED_PROXIES": ["127.0.0.0/8"]}})
def test_forwarded_for_from_a_trusted_proxy_is_kept(gw):
    echo = json_of(gw.get("/gw/orders/x", HTTP_X_FORWARDED_FOR="203.0.113.9"))

    assert echo["headers"]["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"


def test_forwarded_for_from_an_untrusted_peer_is_not_believed(gw):
    echo = json_of(gw.get("/gw/orders/x", HTTP_X_FORWARDED_FOR="203.0.113.9"))

    assert echo["headers"]["X-Forwarded-For"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("path", "seen"),
    [
        ("a/../b", "/base/b"),
        ("a/%2e%2e/b", "/base/b"),
        ("a/%252e%252e/b", "/base/b"),
        ("//evil.example/x", "/base/evil.example/x"),
        ("@evil.example/x", "/base/@evil.example/x"),
        ("a%5c..%5cb", "/base/a%5c..%5cb"),
    ],
)
def test_path_tricks_stay_under_the_upstream_prefix_and_host(gw, path, seen):
    response = gw.get(f"/gw/orders/{path}")

    assert response.status_code == 200
    assert json_of(response)["path"] == seen


def test_non_ascii_path_and_query_arrive_percent_encoded(gw):
    echo = json_of(gw.get("/gw/orders/caf%C3%A9/men%C3%BC?q=%C3%A9t%C3%A9&x=a%20b"))

    assert echo["path"] == "/base/caf%C3%A9/men%C3%BC?q=%C3%A9t%C3%A9&x=a%20b"


@pytest.mark.parametrize("path", ["../secret", "%2e%2e/secret", "a/../../secret", "%252E%252E/x"])
def test_path_climbing_above_the_api_root_answers_400(gw, upstream, path):
    response = gw.get(f"/gw/orders/{path}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert not upstream.hits


@override_settings(PORTCULLIS={"GATEWAY": {"BODY_LIMIT": 1024}})
def test_body_over_the_limit_answers_413_without_reaching_upstream(gw, upstream):
    response = gw.post("/gw/orders/x", data=b"x" * 2048, content_type="application/octet-stream")

    assert response.status_code == 413
    assert "1024" in json_of(response)["detail"]
    assert not upstream.hits


def test_upstream_status_headers_and_body_pass_through(gw):
    response = gw.get("/gw/orders/status/418")

    assert response.status_code == 418
    assert response["X-Upstream"] == "yes"
    assert response["Content-Type"] == "application/json"
    assert json_of(response) == {"status": 418}


def test_each_upstream_set_cookie_reaches_the_client_as_sent(gw):
    response = gw.get("/gw/orders/cookies/3")

    cookies = [value for name, value in response.items() if name.lower() == "set-cookie"]
    expires = "Expires=Wed, 21 Oct 2037 07:28:00 GMT"
    assert cookies == [f"c{i}=v{i}; {expires}; Path=/" for i in range(3)]


def test_slow_upstream_answers_504(gw, api):
    api.timeout = 1
    api.save()

    response = gw.get("/gw/orders/slow/3")

    assert response.status_code == 504
    assert json_of(response)["title"] == "Upstream timeout"


def test_an_upstream_that_never_accepts_answers_504_after_the_connect_timeout(gw, api, silent_host):
    api.upstream_url, api.connect_timeout, api.timeout = silent_host.url, 1, 10
    api.save()
    started = time.monotonic()

    response = gw.get("/gw/orders/x")

    assert response.status_code == 504
    assert json_of(response)["title"] == "Upstream timeout"
    assert time.monotonic() - started < 5, "the call waited out the read timeout, not connect's"


@pytest.fixture
def silent_host():
    """A listener whose accept queue is full: connections to it are never established."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):  # the queue's one place, taken
            yield SimpleNamespace(url=f"http://127.0.0.1:{port}")


def test_an_answer_slower_than_the_total_timeout_answers_504(gw, api):
    api.timeout, api.total_timeout = 30, 1
    api.save()

    response = gw.get("/gw/orders/slow/3")

    assert response.status_code == 504
    assert json_of(response)["title"] == "Upstream timeout"


def test_a_stream_longer_than_the_total_timeout_is_cut_and_the_upstream_let_go(gw, api):
    with CountingUpstream() as upstream:
        api.upstream_url, api.timeout, api.total_timeout = upstream.url, 30, 1
        api.save()

        response = gw.get("/gw/orders/stream")
        eventually(lambda: bool(upstream.closed_at), True)

    assert response.status_code == 200
    # One chunk every 0.1 s for 30 s: the total timeout lets about ten of them through.
    assert 0 < response.content.count(b"tick") < 50
    assert upstream.closed_at, "the upstream went on streaming after the total timeout"


def test_refused_upstream_answers_502(gw, api):
    api.upstream_url = f"http://127.0.0.1:{free_port()}/"
    api.save()

    response = gw.get("/gw/orders/x")

    assert response.status_code == 502
    assert response["Content-Type"] == "application/problem+json"


def test_reset_connection_answers_502(gw):
    response = gw.get("/gw/orders/reset/")

    assert response.status_code == 502


def test_upstream_credential_is_injected_and_kept_sealed_at_rest(gw, api):
    api_set_upstream_credential(api=api, header="X-Api-Key", value="upstream-s3cret")

    echo = json_of(gw.get("/gw/orders/x", HTTP_X_API_KEY="client-attempt"))

    assert echo["headers"]["X-Api-Key"] == "upstream-s3cret"
    stored = Api.objects.values_list("upstream_secret", flat=True).get(pk=api.pk)
    assert "upstream-s3cret" not in stored
    assert stored


def test_path_escapes_reach_the_upstream_as_the_client_sent_them(gw):
    response = gw.get("/gw/orders/caf%E9/%2Fslash%20x?q=%E9")

    assert json_of(response)["path"] == "/base/caf%E9/%2Fslash%20x?q=%E9"


def test_the_portals_cookies_go_neither_upstream_nor_back(gw):
    response = gw.get(
        "/gw/orders/headers?Set-Cookie=sessionid=forged",
        HTTP_COOKIE="sessionid=portal-session; theirs=kept; csrftoken=portal-csrf",
    )
    sent = gw.get("/gw/orders/x", HTTP_COOKIE="sessionid=portal-session; theirs=kept")

    assert json_of(sent)["headers"]["Cookie"] == "theirs=kept"
    assert not [v for k, v in response.items() if k.lower() == "set-cookie"]


@pytest.mark.parametrize("method", ["TRACE", "CONNECT"])
def test_trace_and_connect_are_refused_and_never_forwarded(gw, upstream, method):
    response = gw.generic(method, "/gw/orders/x")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    assert not upstream.hits
