"""The API's admin page: lifecycle buttons, fields by kind, OpenAPI upload and fetch, panels."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.utils import timezone

from apis.models import Api
from apis.services import api_transition
from apis.usage.services import usage_events_store, usage_prune, usage_rollup
from lifecycle.selectors import history_of
from tests.factories import (
    ApiFactory,
    ApplicationFactory,
    PlanFactory,
    StaffFactory,
    SubscriptionFactory,
)
from tests.servers import DocumentServer
from tests.usage.conftest import record

pytestmark = pytest.mark.django_db

APIS = "/admin/apis/api/"
INLINES = {
    "targets-TOTAL_FORMS": "0",
    "targets-INITIAL_FORMS": "0",
    "plans-TOTAL_FORMS": "0",
    "plans-INITIAL_FORMS": "0",
    "lifecycle-lifecycleevent-content_type-object_id-TOTAL_FORMS": "0",
    "lifecycle-lifecycleevent-content_type-object_id-INITIAL_FORMS": "0",
}
DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "Weather", "version": "1"},
    "paths": {
        "/forecast": {
            "get": {"summary": "Forecast by city", "responses": {"200": {"description": "OK"}}}
        }
    },
}


def change_url(api: Api) -> str:
    return f"{APIS}{api.pk}/change/"


def form_data(client: Client, api: Api, **changes) -> dict:
    """The change form as the page fills it in, with `changes`."""
    page = client.get(change_url(api))
    form = {
        field.html_name: field.value()
        for field in page.context["adminform"].form
        if field.value() is not None and field.html_name not in ("openapi_file", "tags")
    }
    return {**form, "fallbacks": json.dumps(form.get("fallbacks") or []), **INLINES, **changes}


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def fieldset_titles(page) -> list[str]:
    return [fieldset.name for fieldset in page.context["adminform"]]


def field_names(page) -> set[str]:
    return {
        name for fieldset in page.context["adminform"] for line in fieldset for name in line.fields
    }


def test_only_allowed_transitions_are_offered_as_buttons(admin_client):
    design, published = ApiFactory(), ApiFactory(published=True)

    design_page = admin_client.get(change_url(design))
    published_page = admin_client.get(change_url(published))

    assert design_page.context["lifecycle_moves"] == ["published", "retired"]
    assert f"{APIS}{design.pk}/transition/published/" in design_page.text
    assert "/transition/deprecated/" not in design_page.text
    assert published_page.context["lifecycle_moves"] == ["deprecated"]
    assert "/transition/retired/" not in published_page.text


def test_deprecate_button_asks_for_note_and_sunset_then_moves(admin_client, staff):
    api = ApiFactory(slug="weather", published=True)
    url = f"{APIS}{api.pk}/transition/deprecated/"
    sunset = (timezone.now() + timedelta(days=90)).replace(second=0, microsecond=0)

    asked = admin_client.get(url)
    moved = admin_client.post(
        url, {"note": "v2 is out", "sunset": sunset.strftime("%Y-%m-%dT%H:%M")}
    )

    assert {"note", "sunset"} <= set(asked.context["form"].fields)
    assert moved.status_code == 302 and moved["Location"] == change_url(api)
    api.refresh_from_db()
    assert (api.state, api.sunset) == ("deprecated", sunset)
    event = history_of(api).first()
    assert (event.note, event.actor) == ("v2 is out", staff)


def test_publish_asks_for_a_note_only(admin_client):
    api = ApiFactory()
    PlanFactory(api=api)

    asked = admin_client.get(f"{APIS}{api.pk}/transition/published/")

    assert set(asked.context["form"].fields) == {"note"}


def test_a_sunset_in_the_past_is_refused_and_nothing_moves(admin_client):
    api = ApiFactory(published=True)

    page = admin_client.post(
        f"{APIS}{api.pk}/transition/deprecated/", {"sunset": "2001-01-01T00:00"}
    )

    assert page.status_code == 200 and "must lie in the future" in page.text
    api.refresh_from_db()
    assert api.state == "published"


def test_a_forbidden_move_by_url_names_the_allowed_ones(admin_client):
    api = ApiFactory(published=True)

    response = admin_client.post(f"{APIS}{api.pk}/transition/retired/", {"note": "now"})

    assert response.status_code == 302
    assert messages_of(response) == [
        f"{api.slug} cannot move from 'published' to 'retired'. Allowed: deprecated."
    ]
    api.refresh_from_db()
    assert api.state == "published"


def test_publishing_without_a_plan_is_refused_with_the_reason(admin_client):
    api = ApiFactory(slug="bare")

    response = admin_client.post(f"{APIS}{api.pk}/transition/published/", {"note": ""})

    assert "Add at least one plan to 'bare'" in messages_of(response)[0]
    api.refresh_from_db()
    assert api.state == "design"


def test_view_only_staff_cannot_move_an_api(db):
    viewer = StaffFactory(is_superuser=False)
    viewer.user_permissions.add(Permission.objects.get(codename="view_api"))
    client = Client()
    client.force_login(viewer)
    api = ApiFactory(published=True)

    response = client.post(f"{APIS}{api.pk}/transition/deprecated/", {"note": ""})

    assert response.status_code == 403
    api.refresh_from_db()
    assert api.state == "published"


@pytest.mark.parametrize(
    ("kind", "shown", "hidden"),
    [
        ("rest", {"upstream_url", "upstream_header", "cache_ttl"}, {"model", "fallbacks"}),
        ("ai", {"model", "fallbacks"}, {"upstream_url", "upstream_header", "prompt_summary"}),
        (
            "prompt",
            {"prompt_summary", "fallbacks", "routing", "cooldown", "cache_ttl"},
            {"upstream_url", "model"},
        ),
    ],
)
def test_fields_follow_the_kind_of_the_api(admin_client, kind, shown, hidden):
    api = ApiFactory(kind=kind, model="demo/echo" if kind != "rest" else "")

    names = field_names(admin_client.get(change_url(api)))

    assert shown <= names
    assert not hidden & names
    assert {"name", "openapi_file", "openapi_url", "openapi_preview"} <= names


def test_add_page_marks_each_kinds_sections_for_the_script(admin_client):
    page = admin_client.get(f"{APIS}add/")

    assert "kind-section kind-rest" in page.text
    assert "kind-section kind-ai" in page.text
    assert "console/api_form.js" in page.text


def test_prompt_api_links_to_its_versioned_prompt(admin_client):
    api = ApiFactory(kind="prompt")

    page = admin_client.get(change_url(api))

    assert f"/admin/ai/promptendpoint/add/?api={api.pk}" in page.text


def test_uploaded_openapi_document_is_stored_previewed_and_noted(admin_client, staff):
    api = ApiFactory(slug="weather")
    upload = SimpleUploadedFile("weather.json", json.dumps(DOCUMENT).encode())

    response = admin_client.post(change_url(api), form_data(admin_client, api, openapi_file=upload))

    assert response.status_code == 302, response.context["adminform"].form.errors
    api.refresh_from_db()
    assert api.openapi == DOCUMENT
    assert history_of(api).first().note == "OpenAPI document replaced (0 → 1 operations)."
    page = admin_client.get(change_url(api))
    assert "/gw/weather/forecast" in page.text and "Forecast by city" in page.text


def test_invalid_upload_is_refused_naming_the_place(admin_client):
    api = ApiFactory()
    broken = {**DOCUMENT, "paths": {"/forecast": {"get": {"responses": 3}}}}
    upload = SimpleUploadedFile("broken.json", json.dumps(broken).encode())

    page = admin_client.post(change_url(api), form_data(admin_client, api, openapi_file=upload))

    errors = page.context["adminform"].form.errors["openapi_file"]
    assert "not of type 'object'" in errors[0] and "$.paths['/forecast'].get.responses" in errors[0]
    api.refresh_from_db()
    assert api.openapi is None


def test_document_fetched_once_from_a_url(admin_client):
    api = ApiFactory()
    with DocumentServer(json.dumps(DOCUMENT).encode()) as server:
        url = f"{server.url}/openapi.json"
        response = admin_client.post(change_url(api), form_data(admin_client, api, openapi_url=url))
        fetches = server.hits["/openapi.json"]

    assert response.status_code == 302, response.context["adminform"].form.errors
    api.refresh_from_db()
    assert api.openapi == DOCUMENT
    assert fetches == 1


@override_settings(PORTCULLIS={"CATALOG": {"OPENAPI_MAX_BYTES": 100}})
def test_fetched_document_over_the_limit_is_refused(admin_client):
    api = ApiFactory()
    with DocumentServer(json.dumps(DOCUMENT).encode()) as server:
        page = admin_client.post(
            change_url(api), form_data(admin_client, api, openapi_url=f"{server.url}/o.json")
        )

    assert "over 100 bytes" in page.context["adminform"].form.errors["openapi_url"][0]


def test_usage_chart_and_subscribers_with_plan_status_and_last_call(admin_client):
    api = ApiFactory(slug="weather", published=True)
    caller, silent = ApplicationFactory(name="caller"), ApplicationFactory(name="silent")
    SubscriptionFactory(api=api, plan=api.plans.first(), application=caller)
    SubscriptionFactory(api=api, plan=api.plans.first(), application=silent, status="pending")
    at = timezone.now() - timedelta(hours=2)
    usage_events_store(
        entries=[("1-0", record(api, caller, at=at)), ("2-0", record(api, caller, at=at))]
    )
    usage_rollup()

    page = admin_client.get(change_url(api))

    assert sum(page.context["usage_series"]["requests"]) == 2
    assert len(page.context["usage_series"]["labels"]) == 30
    rows = {s.application.name: s for s in page.context["subscribers"]}
    assert rows["caller"].last_call == at and rows["silent"].last_call is None
    assert "Pending approval" in page.text and "never" in page.text
    assert 'id="api-usage-data"' in page.text


def test_last_call_is_the_newest_call_and_outlives_its_pruned_events(admin_client):
    api = ApiFactory(slug="weather", published=True)
    caller = ApplicationFactory(name="caller")
    SubscriptionFactory(api=api, plan=api.plans.first(), application=caller)
    newest = timezone.now() - timedelta(days=3)
    usage_events_store(entries=[("1-0", record(api, caller, at=newest))])
    usage_rollup()
    late = record(api, caller, at=newest - timedelta(minutes=30))  # older, rolled up later
    usage_events_store(entries=[("2-0", late)])
    usage_rollup()
    with override_settings(PORTCULLIS={"USAGE": {"RETENTION_DAYS": 1}}):
        assert usage_prune() == 2

    page = admin_client.get(change_url(api))

    assert page.context["subscribers"][0].last_call == newest
    assert f"{newest:%Y-%m-%d %H:%M} UTC" in page.text


def test_import_page_creates_an_api_in_design(admin_client):
    upload = SimpleUploadedFile(
        "weather.yaml",
        b"openapi: 3.0.3\ninfo: {title: Weather, version: '2'}\n"
        b"servers: [{url: 'https://weather.example.com'}]\npaths: {}\n",
    )

    response = admin_client.post(f"{APIS}import/", {"openapi_file": upload})

    api = Api.objects.get()
    assert response.status_code == 302 and response["Location"] == change_url(api)
    assert (api.slug, api.state) == ("weather-2", "design")


def test_import_page_updates_the_chosen_api_and_keeps_its_state(admin_client):
    api = ApiFactory(slug="weather", name="Old", published=True)
    upload = SimpleUploadedFile("weather.json", json.dumps(DOCUMENT).encode())

    admin_client.post(f"{APIS}import/", {"openapi_file": upload, "api": api.pk})

    api.refresh_from_db()
    assert (api.name, api.state) == ("Weather", "published")
    assert "name 'Old' → 'Weather'" in history_of(api).first().note


def test_import_page_without_a_document_says_so(admin_client):
    page = admin_client.post(f"{APIS}import/", {})

    assert "Upload a document or give its URL." in page.text
    assert not Api.objects.exists()


def test_import_needs_add_and_change_rights(db):
    viewer = StaffFactory(is_superuser=False)
    viewer.user_permissions.add(Permission.objects.get(codename="view_api"))
    client = Client()
    client.force_login(viewer)

    assert client.get(f"{APIS}import/").status_code == 403


def test_deprecated_api_page_shows_its_sunset(admin_client):
    api = ApiFactory(published=True)
    api_transition(api=api, to="deprecated", actor=None, sunset=timezone.now() + timedelta(days=3))

    page = admin_client.get(change_url(api))

    assert page.context["lifecycle_moves"] == ["published", "retired"]
    assert "sunset " in page.text
