"""One pooled HTTP client per process for the upstreams."""

from __future__ import annotations

import os

import httpx

from apis.conf import gateway_settings


class _PerProcess:
    client: httpx.Client | None = None
    pid: int = 0


def upstream_client() -> httpx.Client:
    """The process's pooled client, created again after a fork (a pool must not be shared)."""
    if _PerProcess.client is None or _PerProcess.pid != os.getpid():
        _PerProcess.client = _new_client()
        _PerProcess.pid = os.getpid()
    return _PerProcess.client


def _new_client() -> httpx.Client:
    client = httpx.Client(
        limits=httpx.Limits(
            max_connections=gateway_settings.MAX_CONNECTIONS,
            max_keepalive_connections=gateway_settings.MAX_KEEPALIVE,
        ),
        follow_redirects=False,
        trust_env=False,
    )
    # httpx adds Accept-Encoding, User-Agent and friends of its own; a proxy sends the client's.
    client.headers.clear()
    return client
