"""The teams migration on a database holding today's data: users, applications, subscriptions."""

from __future__ import annotations

import pytest

from tests.migrations import migrate_forward, migrated_back

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("keys", "0002_token_keys"),
    ("teams", None),
    ("apis", "0008_mcp_servers"),
]


@pytest.fixture
def at_todays_schema():
    """The database migrated back to the schema before teams; forward again afterwards."""
    with migrated_back(BEFORE, [node for node in BEFORE if node[1] is not None]) as apps:
        yield apps


def _todays_data(apps) -> dict[str, object]:
    User = apps.get_model("auth", "User")
    Application = apps.get_model("keys", "Application")
    Api = apps.get_model("apis", "Api")
    Plan = apps.get_model("apis", "Plan")
    Subscription = apps.get_model("apis", "Subscription")
    alice = User.objects.create(username="alice", email="alice@example.com")
    bob = User.objects.create(username="bob", email="bob@example.com")
    User.objects.create(username="carol")  # no applications at all
    shop = Application.objects.create(owner=alice, name="shop", secret_hash="x")
    Application.objects.create(owner=alice, name="cli", secret_hash="y")
    # The same name under two owners: unique per owner yesterday, per team tomorrow.
    bobs_shop = Application.objects.create(owner=bob, name="shop", secret_hash="z")
    api = Api.objects.create(slug="orders", name="Orders", upstream_url="http://127.0.0.1:9/")
    plan = Plan.objects.create(api=api, name="free")
    Subscription.objects.create(application=shop, api=api, plan=plan, status="active")
    return {"shop": shop.pk, "bobs_shop": bobs_shop.pk}


def test_every_user_gets_a_personal_team_that_takes_over_their_applications(at_todays_schema):
    ids = _todays_data(at_todays_schema)
    migrate_forward()

    from keys.models import Application
    from teams.models import Membership, Team

    teams = {team.name: team for team in Team.objects.all()}
    assert set(teams) == {"alice", "bob", "carol"}
    assert all(team.is_personal for team in teams.values())
    owners = Membership.objects.values_list("team__name", "user__username", "role")
    assert sorted(owners) == [
        ("alice", "alice", "owner"),
        ("bob", "bob", "owner"),
        ("carol", "carol", "owner"),
    ]
    by_team = sorted(Application.objects.values_list("team__name", "name", "created_by__username"))
    assert by_team == [
        ("alice", "cli", "alice"),
        ("alice", "shop", "alice"),
        ("bob", "shop", "bob"),
    ]
    shop = Application.objects.get(pk=ids["shop"])
    assert list(shop.subscriptions.values_list("api__slug", "status")) == [("orders", "active")]
