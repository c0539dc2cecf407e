"""A bare Django app with one view that forwards to the upstream with httpx: the floor of any
Django proxy. Run under gunicorn as `bench.bare:application` with BENCH_UPSTREAM set."""

from __future__ import annotations

import os

import httpx
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse
from django.urls import re_path

UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:8080")
client = httpx.Client(base_url=UPSTREAM, timeout=30)


def forward(request: HttpRequest, path: str) -> HttpResponse:
    """GET the same path from the upstream and answer with its status, type and body."""
    answer = client.get(f"/{path}", params=request.GET)
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
application = get_wsgi_application()
