"""The Django admin of the catalog: lifecycle actions with confirmation, history, subscriptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.test import Client

from apis.models import Api, Subscription
from apis.services import api_transition
from lifecycle.selectors import history_of
from tests.factories import ApiFactory, PlanFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

APIS = "/admin/apis/api/"
SUBSCRIPTIONS = "/admin/apis/subscription/"


def action(client: Client, url: str, name: str, objects, **extra):
    """Submit a changelist action for `objects`, as the admin's action bar does."""
    data = {"action": name, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], **extra}
    return client.post(url, data)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_api_changelist_filters_by_state_and_searches_description(admin_client):
    ApiFactory(slug="weather", description="Rain forecasts", published=True)
    ApiFactory(slug="drafts", description="Rain, soon")

    published = admin_client.get(APIS, {"state": "published"})
    searched = admin_client.get(APIS, {"q": "forecasts"})

    assert published.status_code == 200
    assert "weather" in published.text and "drafts" not in published.text
    assert "weather" in searched.text and "drafts" not in searched.text


def test_api_page_shows_plans_and_read_only_history(admin_client, staff):
    api = ApiFactory(slug="weather")
    PlanFactory(api=api, name="gold-plan")
    api_transition(api=api, to="published", actor=staff, note="Launch day")

    page = admin_client.get(f"{APIS}{api.pk}/change/")

    assert page.status_code == 200
    assert "gold-plan" in page.text
    assert "lifecycle history" in page.text.lower()
    assert "Launch day" in page.text
    # The history inline offers no form fields: no row can be edited, added or deleted.
    assert 'name="lifecycle-lifecycleevent-content_type-object_id-0-note"' not in page.text


def test_api_state_cannot_be_changed_from_the_change_form(admin_client):
    api = ApiFactory(slug="weather", published=True)
    page = admin_client.get(f"{APIS}{api.pk}/change/")

    assert page.status_code == 200
    assert 'name="state"' not in page.text
    assert 'name="sunset"' not in page.text


def test_upstream_credential_set_in_admin_is_sealed_and_never_shown_again(admin_client):
    api = ApiFactory(slug="weather", published=True)
    page = admin_client.get(f"{APIS}{api.pk}/change/")
    form = {
        **{
            field.html_name: field.value()
            for field in page.context["adminform"].form
            if field.value() is not None
        },
        "openapi": "null",
        "fallbacks": "[]",
        "upstream_header": "X-Api-Key",
        "upstream_credential": "up-s3cret",
        "plans-TOTAL_FORMS": "0",
        "plans-INITIAL_FORMS": "0",
        "targets-TOTAL_FORMS": "0",
        "targets-INITIAL_FORMS": "0",
        "lifecycle-lifecycleevent-content_type-object_id-TOTAL_FORMS": "0",
        "lifecycle-lifecycleevent-content_type-object_id-INITIAL_FORMS": "0",
    }
    form.pop("tags", None)

    response = admin_client.post(f"{APIS}{api.pk}/change/", form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    api.refresh_from_db()
    assert api.upstream_secret
    assert "up-s3cret" not in api.upstream_secret
    again = admin_client.get(f"{APIS}{api.pk}/change/")
    assert "up-s3cret" not in again.text
    assert "Upstream credential stored" in again.text


def test_api_added_in_admin_starts_in_design_owned_by_its_creator(admin_client, staff):
    form = {
        "slug": "maps",
        "name": "Maps",
        "version": "v1",
        "kind": "rest",
        "upstream_url": "http://127.0.0.1:9/maps",
        "cache_ttl": "0",
        "timeout": "30",
        "connect_timeout": "5",
        "balancing": "round_robin",
        "failure_statuses": "[500, 502, 503, 504]",
        "circuit_failures": "5",
        "circuit_window": "10",
        "circuit_cool_down": "30",
        "routing": "weight",
        "cooldown": "30",
        "require_encrypted_token": "on",
        "openapi": "null",
        "fallbacks": "[]",
        "plans-TOTAL_FORMS": "1",
        "plans-INITIAL_FORMS": "0",
        "targets-TOTAL_FORMS": "0",
        "targets-INITIAL_FORMS": "0",
        "plans-0-name": "free",
        "plans-0-rate_limit": "60/m",
        "plans-0-max_output_tokens": "4096",
        "lifecycle-lifecycleevent-content_type-object_id-TOTAL_FORMS": "0",
        "lifecycle-lifecycleevent-content_type-object_id-INITIAL_FORMS": "0",
    }

    response = admin_client.post(f"{APIS}add/", form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    api = Api.objects.get(slug="maps")
    assert (api.state, api.owner, list(api.plans.values_list("name", flat=True))) == (
        "design",
        staff,
        ["free"],
    )


def test_publish_action_asks_for_confirmation_before_changing_anything(admin_client):
    api = ApiFactory(slug="weather")
    PlanFactory(api=api)

    page = action(admin_client, APIS, "publish", [api])

    assert page.status_code == 200
    assert "Yes, publish" in page.text and 'name="note"' in page.text
    assert 'name="sunset"' not in page.text  # only a deprecation asks for a sunset
    api.refresh_from_db()
    assert api.state == "design"


def test_confirmed_publish_moves_the_api_and_records_the_note(admin_client, staff):
    api = ApiFactory(slug="weather")
    PlanFactory(api=api)

    response = action(admin_client, APIS, "publish", [api], confirm="yes", note="Go live")

    assert response.status_code == 302
    api.refresh_from_db()
    event = history_of(api).get()
    assert (api.state, event.to_state, event.note, event.actor) == (
        "published",
        "published",
        "Go live",
        staff,
    )
    assert messages_of(response) == ["Now published: weather."]


def test_deprecation_asks_for_a_sunset_and_stores_it_in_the_history(admin_client):
    api = ApiFactory(slug="weather", published=True)
    sunset = datetime(2031, 6, 30, 12, 0, tzinfo=UTC)

    page = action(admin_client, APIS, "deprecate", [api])
    response = action(
        admin_client,
        APIS,
        "deprecate",
        [api],
        confirm="yes",
        note="v2 is out",
        sunset="2031-06-30T12:00",
    )

    assert 'name="sunset"' in page.text
    assert response.status_code == 302
    api.refresh_from_db()
    event = history_of(api).first()
    assert (api.state, api.sunset) == ("deprecated", sunset)
    assert (event.to_state, event.note, event.sunset) == ("deprecated", "v2 is out", sunset)


def test_sunset_in_the_past_is_refused_on_the_confirmation_page(admin_client):
    api = ApiFactory(slug="weather", published=True)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    page = action(admin_client, APIS, "deprecate", [api], confirm="yes", sunset=yesterday)

    assert page.status_code == 200
    assert "The sunset must lie in the future." in page.text
    api.refresh_from_db()
    assert api.state == "published"


def test_forbidden_transition_is_a_message_naming_the_allowed_ones(admin_client):
    api = ApiFactory(slug="weather")  # design: may go to published or retired only

    response = action(admin_client, APIS, "deprecate", [api], confirm="yes", note="no")

    assert response.status_code == 302
    [message] = messages_of(response)
    assert "weather" in message and "published, retired" in message
    api.refresh_from_db()
    assert api.state == "design"
    assert not history_of(api).exists()


def test_publishing_without_a_plan_is_a_message_not_an_error_page(admin_client):
    api = ApiFactory(slug="weather")

    response = action(admin_client, APIS, "publish", [api], confirm="yes")

    [message] = messages_of(response)
    assert "Add at least one plan" in message and "published, retired" in message
    api.refresh_from_db()
    assert api.state == "design"


def test_one_action_moves_the_apis_that_may_and_reports_the_others(admin_client):
    ready = ApiFactory(slug="ready", published=True)
    gone = ApiFactory(slug="gone")
    api_transition(api=gone, to="retired", actor=None)

    response = action(admin_client, APIS, "deprecate", [ready, gone], confirm="yes")

    ready.refresh_from_db()
    assert ready.state == "deprecated"
    assert sorted(messages_of(response)) == [
        "Now deprecated: ready.",
        "gone: Cannot move from 'retired' to 'deprecated'. "
        "Allowed from 'retired': none (terminal state).",
    ]


def test_confirmation_page_warns_about_apis_that_cannot_move(admin_client):
    api = ApiFactory(slug="weather")

    page = action(admin_client, APIS, "retire", [ApiFactory(slug="done", published=True), api])

    assert "not allowed from published; allowed: deprecated" in page.text


def test_retire_action_ends_subscriptions(admin_client):
    subscription = SubscriptionFactory()
    api_transition(api=subscription.api, to="deprecated", actor=None)

    action(admin_client, APIS, "retire", [subscription.api], confirm="yes", note="bye")

    subscription.refresh_from_db()
    assert subscription.status == "ended"


def test_non_staff_are_sent_to_the_admin_login(alice):
    client = Client()
    client.force_login(alice)
    api = ApiFactory(published=True)

    for url in (APIS, f"{APIS}{api.pk}/change/", SUBSCRIPTIONS):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_non_staff_cannot_run_a_transition(alice):
    client = Client()
    client.force_login(alice)
    api = ApiFactory(published=True)

    action(client, APIS, "deprecate", [api], confirm="yes")

    api.refresh_from_db()
    assert api.state == "published"


def test_approve_action_activates_pending_subscriptions(admin_client, staff):
    pending = SubscriptionFactory(status=Subscription.Status.PENDING)

    response = action(admin_client, SUBSCRIPTIONS, "approve", [pending])

    pending.refresh_from_db()
    assert (pending.status, pending.decided_by) == ("active", staff)
    assert messages_of(response) == ["1 subscription(s) approved."]


def test_reject_action_reports_each_subscription_that_cannot_change(admin_client):
    pending = SubscriptionFactory(status=Subscription.Status.PENDING)
    active = SubscriptionFactory()
    revoked = SubscriptionFactory(status=Subscription.Status.REVOKED)

    response = action(admin_client, SUBSCRIPTIONS, "reject", [pending, active, revoked])

    statuses = [Subscription.objects.get(pk=sub.pk).status for sub in (pending, active, revoked)]
    assert statuses == ["rejected", "active", "revoked"]
    found = messages_of(response)
    assert len(found) == 3
    assert (
        f"{active.application} → {active.api.slug}: "
        f"Subscription {active.pk} is active; it cannot become rejected."
    ) in found
    assert (
        f"{revoked.application} → {revoked.api.slug}: "
        f"Subscription {revoked.pk} is revoked; it cannot become rejected."
    ) in found
    assert "1 subscription(s) rejected." in found


def test_subscriptions_are_found_by_owner_and_filtered_by_status(admin_client, alice, bob):
    mine = SubscriptionFactory(application__owner=alice, application__name="alice-app")
    SubscriptionFactory(application__owner=bob, application__name="bob-app")
    SubscriptionFactory(
        application__owner=bob,
        application__name="bob-pending",
        status=Subscription.Status.PENDING,
    )

    by_owner = admin_client.get(SUBSCRIPTIONS, {"q": "alice"})
    by_status = admin_client.get(SUBSCRIPTIONS, {"status__exact": "pending"})
    by_api = admin_client.get(SUBSCRIPTIONS, {"q": mine.api.slug})

    assert "alice-app" in by_owner.text and "bob-app" not in by_owner.text
    assert "bob-pending" in by_status.text and "alice-app" not in by_status.text
    assert "alice-app" in by_api.text and "bob-app" not in by_api.text


def test_subscriptions_cannot_be_added_or_deleted_in_admin(admin_client):
    subscription = SubscriptionFactory()

    assert admin_client.get(f"{SUBSCRIPTIONS}add/").status_code == 403
    assert admin_client.get(f"{SUBSCRIPTIONS}{subscription.pk}/delete/").status_code == 403


def test_lifecycle_history_admin_is_read_only(admin_client):
    api = ApiFactory(slug="weather", published=True)
    event = history_of(api).get()
    base = "/admin/lifecycle/lifecycleevent/"

    listing = admin_client.get(base)
    detail = admin_client.get(f"{base}{event.pk}/change/")
    posted = admin_client.post(f"{base}{event.pk}/change/", {"note": "rewritten"})

    assert listing.status_code == 200 and str(api) in listing.text
    assert detail.status_code == 200 and 'name="note"' not in detail.text
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.get(f"{base}{event.pk}/delete/").status_code == 403
    assert posted.status_code == 403
    event.refresh_from_db()
    assert event.note == ""


def test_plan_and_tag_admin_pages_load(admin_client):
    plan = PlanFactory(name="gold-plan")
    plan.api.tags.create(name="weather")

    plans = admin_client.get("/admin/apis/plan/", {"q": plan.api.slug})
    tags = admin_client.get("/admin/apis/tag/")
    plan_page = admin_client.get(f"/admin/apis/plan/{plan.pk}/change/")

    assert plans.status_code == 200 and "gold-plan" in plans.text
    assert tags.status_code == 200 and "weather" in tags.text
    assert plan_page.status_code == 200
