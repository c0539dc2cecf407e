"""Two teams, the way the other tests use two users: Acme (every role) and Globex (Bob's)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from teams.models import Role
from tests.factories import ApplicationFactory, TeamFactory, UserFactory


@pytest.fixture
def ada(db):
    return UserFactory(username="ada")


@pytest.fixture
def dan(db):
    return UserFactory(username="dan")


@pytest.fixture
def vic(db):
    return UserFactory(username="vic")


@pytest.fixture
def acme(alice, ada, dan, vic):
    """Alice owns it; Ada is an admin, Dan a developer, Vic a viewer."""
    members = {alice: Role.OWNER, ada: Role.ADMIN, dan: Role.DEVELOPER, vic: Role.VIEWER}
    return TeamFactory(name="acme", members=members)


@pytest.fixture
def globex(bob):
    return TeamFactory(name="globex", members={bob: Role.OWNER})


@pytest.fixture
def acme_app(acme, alice):
    return ApplicationFactory(team=acme, owner=alice, name="acme-shop")


@pytest.fixture
def globex_app(globex, bob):
    return ApplicationFactory(team=globex, owner=bob, name="globex-shop")


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def as_user():
    """`as_user(dan)`: an API client signed in as that user."""
    return signed_in
