"""/api/v1/providers/ and /api/v1/prompts/: staff only, write-only encrypted keys, versions."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from apis.ai.models import PromptEndpoint, PromptVersion, Provider
from apis.models import Api
from apis.services import api_transition
from tests.factories import ApiFactory, PlanFactory
from tests.servers import Upstream

PROVIDER = {
    "name": "openai-main",
    "kind": "openai",
    "base_url": "https://api.openai.com/v1",
    "api_key": "sk-live-very-secret",
    "models": [{"name": "gpt-4o", "input_cost_per_mtok": "2.5", "output_cost_per_mtok": "10"}],
}


def test_staff_registers_a_provider_and_the_key_is_never_shown(staff_client):
    created = staff_client.post("/api/v1/providers/", PROVIDER, format="json")
    listed = staff_client.get("/api/v1/providers/")

    assert created.status_code == 201
    assert "api_key" not in created.json() and "sk-live" not in str(listed.json())
    assert created.json()["has_api_key"] is True
    assert created.json()["models"][0]["name"] == "gpt-4o"


def test_provider_key_is_encrypted_at_rest(staff_client):
    staff_client.post("/api/v1/providers/", PROVIDER, format="json")

    provider = Provider.objects.get(name="openai-main")
    assert "sk-live-very-secret" not in provider.sealed_api_key
    assert provider.api_key() == "sk-live-very-secret"


def test_patch_without_a_key_keeps_the_stored_key(staff_client):
    staff_client.post("/api/v1/providers/", PROVIDER, format="json")

    response = staff_client.patch(
        "/api/v1/providers/openai-main/", {"base_url": "https://example.com/v1"}, format="json"
    )

    assert response.status_code == 200
    assert Provider.objects.get(name="openai-main").api_key() == "sk-live-very-secret"


def test_developers_cannot_see_or_add_providers(alice_client):
    assert alice_client.get("/api/v1/providers/").status_code == 403
    assert alice_client.post("/api/v1/providers/", PROVIDER, format="json").status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "bard"}, "kind"),
        ({"base_url": "not a url"}, "base_url"),
        ({"models": [{"name": "m", "input_cost_per_mtok": "-1"}]}, "models.0.input_cost_per_mtok"),
        ({"color": "red"}, "color"),
    ],
)
def test_bad_provider_answers_400_naming_the_field(staff_client, change, field):
    response = staff_client.post("/api/v1/providers/", {**PROVIDER, **change}, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]


@pytest.fixture
def prompt_kind_api(db):
    api = ApiFactory(slug="translate", kind=Api.Kind.PROMPT, upstream_url="")
    PlanFactory(api=api)
    api_transition(api=api, to="published", actor=None)
    return api


PROMPT = {
    "api": "translate",
    "model": "openai-main/gpt-4o",
    "system": "You translate.",
    "template": "Translate to {{lang}}: {{text}}",
    "variables": {
        "type": "object",
        "properties": {"text": {"type": "string"}, "lang": {"type": "string"}},
        "required": ["text", "lang"],
    },
    "output": "text",
}


def test_staff_publishes_a_prompt_and_each_change_is_versioned(staff_client, prompt_kind_api):
    created = staff_client.post("/api/v1/prompts/", PROMPT, format="json")
    staff_client.patch(
        "/api/v1/prompts/translate/", {"system": "You translate well."}, format="json"
    )
    versions = staff_client.get("/api/v1/prompts/translate/versions/").json()

    assert created.status_code == 201 and created.json()["version"] == 1
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["system"] == "You translate well." and versions[0]["author"] == "admin"
    assert PromptVersion.objects.count() == 2


def test_unchanged_save_makes_no_new_version(staff_client, prompt_kind_api):
    staff_client.post("/api/v1/prompts/", PROMPT, format="json")
    staff_client.patch("/api/v1/prompts/translate/", {"system": "You translate."}, format="json")

    assert PromptVersion.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"variables": {"type": "no-such-type"}}, "variables"),
        ({"template": "Hi {{name}}"}, "template"),
        ({"model": "gpt-4o"}, "model"),
        ({"output": "xml"}, "output"),
        ({"api": "no-such-api"}, "api"),
    ],
)
def test_bad_prompt_answers_400_naming_the_field(staff_client, prompt_kind_api, change, field):
    response = staff_client.post("/api/v1/prompts/", {**PROMPT, **change}, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    ("schema", "says"),
    [
        ({"$ref": "REMOTE/schema.json"}, "only references inside the schema"),
        ({"properties": {"text": {"$ref": "#/$defs/missing"}}}, "does not resolve"),
        ({"properties": {"text": {"pattern": "^(a)\\1$"}}}, "cannot be used"),
    ],
    ids=["remote-ref", "dangling-ref", "backreference"],
)
def test_a_schema_that_would_fetch_a_url_or_backtrack_is_refused_at_save(
    staff_client, prompt_kind_api, schema, says
):
    with Upstream() as remote:
        variables = json.loads(json.dumps(schema).replace("REMOTE", remote.url))
        response = staff_client.post(
            "/api/v1/prompts/", {**PROMPT, "variables": variables}, format="json"
        )
        patched_output = staff_client.post(
            "/api/v1/prompts/",
            {**PROMPT, "output": "json", "output_schema": variables},
            format="json",
        )

    assert response.status_code == 400
    assert says in response.json()["errors"]["variables"][0]
    assert patched_output.status_code == 400
    assert "output_schema" in patched_output.json()["errors"]
    assert sum(remote.hits.values()) == 0


def test_admin_refuses_a_prompt_whose_schema_refers_outside_itself(staff, prompt_kind_api):
    admin = Client()
    admin.force_login(staff)
    form = {
        "api": prompt_kind_api.pk,
        "model": "demo/echo-1",
        "template": "{{text}}",
        "variables": json.dumps({"$ref": "http://127.0.0.1:9/schema.json"}),
        "output": "text",
        "output_schema": "null",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }

    response = admin.post("/admin/ai/promptendpoint/add/", form)

    assert response.status_code == 200
    assert "only references inside the schema" in response.content.decode()
    assert not PromptEndpoint.objects.exists()


def test_developers_cannot_change_prompts(alice_client, prompt_kind_api):
    assert alice_client.post("/api/v1/prompts/", PROMPT, format="json").status_code == 403


def test_admin_shows_the_prompt_history(client, staff, staff_client, prompt_kind_api):
    staff_client.post("/api/v1/prompts/", PROMPT, format="json")
    staff_client.patch(
        "/api/v1/prompts/translate/", {"template": "To {{lang}}: {{text}}"}, format="json"
    )
    client.force_login(staff)
    prompt_id = prompt_kind_api.prompt.pk

    page = client.get(f"/admin/ai/promptendpoint/{prompt_id}/change/")

    assert page.status_code == 200
    assert b"Translate to {{lang}}: {{text}}" in page.content
    assert b"To {{lang}}: {{text}}" in page.content
