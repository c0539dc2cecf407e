"""Fixtures shared by every test: users of each kind and API clients signed in as them.

hypothesis is imported up front: its pytest plugin imports it lazily in the terminal summary,
where CPython 3.11.7's AST validation can fail with "recursion depth mismatch" (gh-106905).
"""

from __future__ import annotations

import asyncio

import hypothesis  # noqa: F401 - imported here, not lazily at the end (see below)
import pytest
from asgiref.sync import SyncToAsync
from django.core.cache import cache
from django.db import connections
from django.test import Client
from django.test.utils import modify_settings
from rest_framework.test import APIClient

from apis.catalog_cache import bump_catalog_version
from apis.gateway import http_client
from keys import keyring
from tests.clock import ManualClock
from tests.factories import StaffFactory, UserFactory
from tests.servers import AsgiLiveServer


@pytest.fixture(scope="session", autouse=True)
def _database_pools_closed_at_the_end(django_db_setup, django_db_blocker):
    """Close the connection pools (the live servers' threads drew from them) before the test
    database is dropped: a pool's idle connections would keep it in use."""
    yield
    with django_db_blocker.unblock():
        for connection in connections.all():
            close_pool = getattr(connection, "close_pool", None)
            if close_pool is not None:
                close_pool()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty shared cache (counters, revocations, cached lookups)."""
    cache.clear()
    bump_catalog_version()  # the process-local copies of catalog lookups go too
    keyring.forget()  # and the token keys, which lived in the previous test's database
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _upstream_clients_closed_with_their_loops():
    """A test fails when an event loop it ran ended with its upstream client still open.

    Such a client keeps its connections until the process exits, and aiohttp reports it only
    then ("Unclosed client session"), far from the test that left it. Its registry entry
    outlives the loop (the client holds the loop), so a closed loop found there is the proof.
    """
    yield
    ended = [loop for loop in list(http_client._clients) if loop.is_closed()]
    for loop in ended:
        del http_client._clients[loop]  # reported once, here, not again by every later test
    if ended:
        pytest.fail(f"{len(ended)} event loop(s) ended with the upstream client open", False)


@pytest.fixture
def manual_clock(monkeypatch):
    """The project's clock, held still; `manual_clock.advance(seconds)` moves it."""
    return ManualClock(monkeypatch)


@pytest.fixture
def thread_hops(monkeypatch):
    """Counts every call that leaves the event loop for a thread: asgiref's sync_to_async, and
    the loop's executor, which sync_to_async, asyncio.to_thread and name lookups go through."""
    hops: list[object] = []
    original = SyncToAsync.__call__
    original_in_executor = asyncio.BaseEventLoop.run_in_executor

    async def counting(self, *args, **kwargs):
        hops.append(self.func)
        return await original(self, *args, **kwargs)

    def counting_in_executor(self, executor, func, *args):
        hops.append(func)
        return original_in_executor(self, executor, func, *args)

    monkeypatch.setattr(SyncToAsync, "__call__", counting)
    monkeypatch.setattr(asyncio.BaseEventLoop, "run_in_executor", counting_in_executor)
    return hops


@pytest.fixture
def live_server(transactional_db):
    """The project's ASGI application served on loopback (replaces pytest-django's WSGI one)."""
    with AsgiLiveServer() as server:
        # pytest-django's autouse helper enables this around any test that uses live_server.
        server._live_server_modified_settings = modify_settings(
            ALLOWED_HOSTS={"append": "127.0.0.1"}
        )
        yield server


@pytest.fixture
def staff(db):
    return StaffFactory(username="admin")


@pytest.fixture
def admin_client(staff) -> Client:
    """Django's test client signed in as the superuser `staff` (the admin pages' tests)."""
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


def _client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def staff_client(staff) -> APIClient:
    return _client_for(staff)


@pytest.fixture
def alice_client(alice) -> APIClient:
    return _client_for(alice)


@pytest.fixture
def bob_client(bob) -> APIClient:
    return _client_for(bob)
