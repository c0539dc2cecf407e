"""Migration 0018 on a database holding today's usage and AI rows: they stay, under new apps."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType

from tests.factories import ApiFactory, ApplicationFactory, StaffFactory, UserFactory
from tests.migrations import migrate_forward, migrated_back

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("apis", "0017_deployment_limits_keys_and_spend_rollups"),
    ("usage", None),
    ("ai", None),
]
# What the rows are written with: the catalog before the move, and the content types,
# permissions and admin log as they are today.
STATE = [
    BEFORE[0],
    ("contenttypes", "0002_remove_content_type_name"),
    ("auth", "0012_alter_user_first_name_max_length"),
    ("admin", "0003_logentry_add_action_flag_choices"),
]
AT = datetime(2026, 11, 30, 12, tzinfo=UTC)


@pytest.fixture
def at_todays_schema():
    """The database migrated back to the schema before the move; forward again afterwards."""
    with migrated_back(BEFORE, STATE) as apps:
        yield apps


def _usage_rows(apps, api, application) -> None:
    ids = {"api_id": api.pk, "application_id": application.pk}
    event = apps.get_model("apis", "UsageEvent")
    for n in range(3):
        event.objects.create(source_id=f"e{n}", at=AT, status=200 + n, cost=Decimal("0.5"), **ids)
    apps.get_model("apis", "UsageRollup").objects.create(
        granularity="hour", period_start=AT, requests=3, cost=Decimal("1.5"), **ids
    )
    apps.get_model("apis", "SpendRollup").objects.create(
        day=date(2026, 11, 30), model="east", calls=3, cost=Decimal("1.5"), **ids
    )
    apps.get_model("apis", "SpendAlert").objects.create(
        policy="budget", threshold=80, month="2026-11", detail="80% of 10 USD", **ids
    )
    apps.get_model("apis", "UsageRejected").objects.create(
        source_id="bad-0", fields={"at": "never"}, reason="ValueError"
    )
    apps.get_model("apis", "UsageLock").objects.create(name="rollup")


def _ai_rows(apps, api, author) -> int:
    provider = apps.get_model("apis", "Provider").objects.create(
        name="openai", kind="openai", base_url="https://api.openai.com/v1", sealed_api_key="s"
    )
    provider.models.create(name="gpt-4o", input_cost_per_mtok=Decimal("2.5"))
    apps.get_model("apis", "Deployment").objects.create(
        api_id=api.pk, name="east", provider=provider, model="gpt-4o", rpm=60
    )
    prompt = apps.get_model("apis", "PromptEndpoint").objects.create(
        api_id=api.pk, model="openai/gpt-4o", template="Hello {{name}}", version=2
    )
    for version in (1, 2):
        prompt.versions.create(
            version=version,
            model="openai/gpt-4o",
            template="Hello",
            output="text",
            author_id=author,
        )
    return provider.pk


def _permissions_and_history(apps, staff, viewer, provider_id) -> None:
    """A viewer allowed to read rollups, an admin log entry on the provider, and an empty
    content type under the new label (what `migrate` leaves after an earlier move back)."""
    content_type = apps.get_model("contenttypes", "ContentType")
    permission = apps.get_model("auth", "Permission")
    rollups = content_type.objects.get_or_create(app_label="apis", model="usagerollup")[0]
    viewing = permission.objects.get_or_create(content_type=rollups, codename="view_usagerollup")
    apps.get_model("auth", "User").objects.get(pk=viewer.pk).user_permissions.add(viewing[0])
    providers = content_type.objects.get_or_create(app_label="apis", model="provider")[0]
    apps.get_model("admin", "LogEntry").objects.create(
        user_id=staff.pk, content_type=providers, object_id=str(provider_id),
        object_repr="openai", action_flag=ADDITION, action_time=AT,
    )  # fmt: skip
    content_type.objects.get_or_create(app_label="usage", model="usagerollup")


def test_usage_and_ai_rows_are_all_there_under_their_new_apps(at_todays_schema):
    apps = at_todays_schema
    api, application = ApiFactory(slug="chat"), ApplicationFactory()
    staff, viewer = StaffFactory(), UserFactory(username="viewer", is_staff=True)
    _usage_rows(apps, api, application)
    provider_id = _ai_rows(apps, api, staff.pk)
    _permissions_and_history(apps, staff, viewer, provider_id)

    migrate_forward()
    ContentType.objects.clear_cache()

    from apis.ai.models import Deployment, PromptEndpoint, Provider
    from apis.usage.models import (
        SpendAlert,
        SpendRollup,
        UsageEvent,
        UsageLock,
        UsageRejected,
        UsageRollup,
    )

    events = UsageEvent.objects.order_by("source_id").values_list("source_id", "status", "cost")
    assert list(events) == [(f"e{n}", 200 + n, Decimal("0.5")) for n in range(3)]
    assert UsageRollup.objects.get(api=api).requests == 3
    assert SpendRollup.objects.get(application=application).model == "east"
    assert SpendAlert.objects.get().threshold == 80
    assert UsageRejected.objects.get().source_id == "bad-0"
    assert UsageLock.objects.get().name == "rollup"

    provider = Provider.objects.get(pk=provider_id)
    assert list(provider.models.values_list("name", "input_cost_per_mtok")) == [
        ("gpt-4o", Decimal("2.5"))
    ]
    assert Deployment.objects.get(api=api).provider == provider
    prompt = PromptEndpoint.objects.get(api=api)
    assert list(prompt.versions.values_list("version", "author")) == [(2, staff.pk), (1, staff.pk)]

    assert ContentType.objects.get_for_model(UsageRollup).app_label == "usage"
    assert not ContentType.objects.filter(app_label="apis", model__in=["provider", "usageevent"])
    assert type(viewer).objects.get(pk=viewer.pk).has_perm("usage.view_usagerollup")
    assert LogEntry.objects.get(object_id=str(provider_id)).get_edited_object() == provider
