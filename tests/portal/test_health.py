"""Probes: /healthz while serving, /readyz naming each dependency and what failed."""

from __future__ import annotations

import socket

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

needs_redis = pytest.mark.skipif(
    not settings.REDIS_URL, reason="needs REDIS_URL: the embedded default has no broker to check"
)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_answers_200(anon_client):
    response = anon_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_200_naming_its_checks(anon_client):
    response = anon_client.get("/readyz")
    assert response.status_code == 200, response.content
    checks = response.json()["checks"]
    assert checks["database"] == checks["cache"] == "ok"
    assert ("broker" in checks) == bool(settings.REDIS_URL)


@needs_redis
def test_readyz_checks_the_real_broker(anon_client):
    assert anon_client.get("/readyz").json()["checks"]["broker"] == "ok"


def test_readyz_answers_503_naming_the_cache_when_it_is_down(anon_client, closed_port):
    down = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
        }
    }
    with override_settings(CACHES=down):
        response = anon_client.get("/readyz")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["detail"] == "Not ready: cache failed."
    assert body["checks"]["database"] == "ok"
    assert "Connection" in body["checks"]["cache"]


def test_readyz_answers_503_naming_the_broker_when_it_is_down(anon_client, closed_port):
    with override_settings(
        CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL=f"redis://127.0.0.1:{closed_port}/0"
    ):
        response = anon_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == 503
    assert body["detail"] == "Not ready: broker failed."
    assert body["checks"]["cache"] == "ok"


@pytest.fixture
def cache_down(closed_port):
    down = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
        }
    }
    with override_settings(CACHES=down):
        yield


def test_readyz_gives_others_a_bare_status_without_internal_addresses(cache_down, closed_port):
    remote = APIClient(REMOTE_ADDR="203.0.113.5")
    proxied = APIClient(HTTP_X_FORWARDED_FOR="203.0.113.5")

    for response in (remote.get("/readyz"), proxied.get("/readyz")):
        assert response.status_code == 503
        assert response.json() == {
            "type": "about:blank",
            "title": "Not ready",
            "status": 503,
            "detail": "Not ready.",
        }
        assert str(closed_port) not in response.content.decode()


def test_readyz_tells_staff_what_failed_from_anywhere(cache_down, staff):
    client = APIClient(REMOTE_ADDR="203.0.113.5")
    client.force_login(staff)

    body = client.get("/readyz").json()

    assert body["detail"] == "Not ready: cache failed."
    assert "Connection" in body["checks"]["cache"]


def test_readyz_when_ready_names_no_checks_to_others():
    response = APIClient(REMOTE_ADDR="203.0.113.5").get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}
