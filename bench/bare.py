"""A bare async Django app with one view that forwards to the upstream with httpx: the floor of
any Django proxy. Served by an ASGI server as `bench.bare:application`, BENCH_UPSTREAM set.

Its client is the gateway's own (httpx over the aiohttp transport), so the ratio of the two
measures what the gateway's pipeline costs, not which HTTP client is faster."""

from __future__ import annotations

import os

import httpx
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.http import HttpRequest, HttpResponse
from django.urls import re_path

from apis.gateway.aiohttp_transport import AiohttpTransport

UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:8080")


class _Pool:
    # One client per process, made inside the server's event loop on the first call: an
    # AsyncClient's connections belong to the loop that opened them.
    client: httpx.AsyncClient | None = None


def upstream() -> httpx.AsyncClient:
    """The process's pooled async client to the upstream."""
    if _Pool.client is None:
        transport = AiohttpTransport(max_connections=None, keepalive_seconds=15)
        _Pool.client = httpx.AsyncClient(base_url=UPSTREAM, timeout=30, transport=transport)
    return _Pool.client


async def forward(request: HttpRequest, path: str) -> HttpResponse:
    """GET the same path from the upstream and answer with its status, type and body."""
    answer = await upstream().get(f"/{path}", params=request.GET)
    return HttpResponse(
        answer.content, status=answer.status_code, content_type=answer.headers["content-type"]
    )


settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only-bare-django-proxy",  # noqa: S106
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)
urlpatterns = [re_path(r"^(?P<path>.*)$", forward)]
application = get_asgi_application()
