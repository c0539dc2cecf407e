"""The data plane under WSGI (`gunicorn portal.wsgi`, `manage.py runserver`): answered whole,
accounted, and no upstream connection left open once a call is over."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from django.core.management import call_command
from django.db import connections

from apis.services import api_transition
from portal.wsgi import application
from tests.factories import ApiFactory, ApplicationFactory, PlanFactory, SubscriptionFactory
from tests.polling import eventually
from tests.servers import Upstream
from tests.tokens import token_for

pytestmark = pytest.mark.django_db(transaction=True)
ESTABLISHED = "01"  # the state column of /proc/net/tcp


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:
        return


class WsgiServer:
    """The project's WSGI application under the standard library's server, in a thread."""

    def __init__(self) -> None:
        self.server: WSGIServer = make_server(
            "127.0.0.1", 0, application, handler_class=QuietHandler
        )
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        try:
            self.server.serve_forever(poll_interval=0.05)
        finally:
            connections.close_all()  # this thread's own, or the test database stays in use

    def __enter__(self) -> WsgiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()


def connections_to(port: int) -> int:
    """Open TCP connections of this machine to `port` on loopback (their client ends)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    fields = [row.split() for row in rows]
    return sum(1 for f in fields if int(f[2].split(":")[1], 16) == port and f[3] == ESTABLISHED)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with Upstream() as server:
        yield server


@pytest.fixture
def gateway() -> Iterator[WsgiServer]:
    with WsgiServer() as server:
        yield server


def test_gateway_calls_under_wsgi_close_their_upstream_connections(
    upstream, gateway, alice, alice_client
):
    api = ApiFactory(slug="orders", upstream_url=upstream.url)
    PlanFactory(api=api, rate_limit="1000/m")
    api_transition(api=api, to="published", actor=None)
    app = ApplicationFactory(owner=alice)
    SubscriptionFactory(application=app, api=api, plan=api.plans.get())
    headers = {"Authorization": f"Bearer {token_for(app)}"}
    port = int(upstream.url.rsplit(":", 1)[1])

    answers = [httpx.get(f"{gateway.url}/gw/orders/items/{n}", headers=headers) for n in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert [answer.json()["path"] for answer in answers] == ["/items/0", "/items/1", "/items/2"]
    assert eventually(lambda: connections_to(port), 0) == 0
    call_command("rollup_usage")
    [row] = alice_client.get("/api/v1/usage/", {"api": "orders"}).json()["results"]
    assert row["requests"] == 3


def test_the_portal_and_the_health_check_answer_under_wsgi(gateway):
    portal = httpx.get(f"{gateway.url}/accounts/login/")

    assert portal.status_code == 200
    assert "csrftoken" in portal.cookies  # the control plane keeps Django's middleware
    assert httpx.get(f"{gateway.url}/healthz").status_code == 200
