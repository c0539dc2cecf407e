"""Importing an API from an OpenAPI document: POST /api/v1/apis/import/ and its service."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from apis.models import Api
from apis.services import api_transition
from lifecycle.selectors import history_of
from tests.factories import ApiFactory, PlanFactory
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db

IMPORT = "/api/v1/apis/import/"

PETSTORE_YAML = """\
openapi: 3.0.3
info:
  title: Pet Store
  version: 1.0.2
  description: Pets for sale.
servers:
  - url: https://pets.example.com/v1
tags:
  - name: Animals
  - name: shop
paths:
  /pets:
    get:
      summary: List the pets
      responses:
        200:
          description: The pets
"""


def petstore(**info) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Pet Store", "version": "1.0.2", **info},
        "servers": [{"url": "https://pets.example.com/v1"}],
        "paths": {"/pets": {"get": {"responses": {"200": {"description": "The pets"}}}}},
    }


def post_yaml(client, text: str, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return client.post(
        f"{IMPORT}?{query}" if query else IMPORT, text, content_type="application/yaml"
    )


def test_yaml_document_creates_an_api_in_design_with_its_fields(staff_client):
    response = post_yaml(staff_client, PETSTORE_YAML)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "pet-store-1-0-2"
    assert body["state"] == "design"
    assert (body["name"], body["version"]) == ("Pet Store", "1.0.2")
    assert body["description"] == "Pets for sale."
    assert body["upstream_url"] == "https://pets.example.com/v1"
    assert sorted(body["tags"]) == ["animals", "shop"]
    # YAML's unquoted 200 is stored as the JSON key the portal's docs and MCP tools read.
    assert body["openapi"]["paths"]["/pets"]["get"]["responses"]["200"]["description"]


def test_json_document_of_a_published_api_updates_it_keeping_its_state(staff_client, staff):
    api = ApiFactory(name="Pet Store", version="1.0.2", description="Old words.", published=True)

    response = staff_client.post(
        IMPORT, json.dumps(petstore(description="New words.")), content_type="application/json"
    )

    assert response.status_code == 200, response.content
    api.refresh_from_db()
    assert api.state == "published"
    assert api.description == "New words."
    assert api.upstream_url == "https://pets.example.com/v1"
    change = history_of(api).first()
    assert (change.from_state, change.to_state, change.actor) == ("published", "published", staff)
    assert "description changed" in change.note
    assert "upstream_url" in change.note and "document replaced (0 → 1 operations)" in change.note


def test_importing_the_same_document_twice_writes_history_once(staff_client):
    document = json.dumps(petstore())
    staff_client.post(IMPORT, document, content_type="application/json")
    again = staff_client.post(IMPORT, document, content_type="application/json")

    assert again.status_code == 200
    assert history_of(Api.objects.get()).count() == 0


def test_slug_parameter_names_the_api_to_update(staff_client):
    api = ApiFactory(slug="pets", name="Pets", version="v1")

    response = post_yaml(staff_client, PETSTORE_YAML, slug="pets")

    assert response.status_code == 200
    api.refresh_from_db()
    assert (api.name, api.version) == ("Pet Store", "1.0.2")
    assert Api.objects.count() == 1


def test_deprecated_api_stays_deprecated_and_keeps_its_deprecation_date(staff_client):
    api = ApiFactory(name="Pet Store", version="1.0.2", published=True)
    api_transition(api=api, to="deprecated", actor=None)

    post_yaml(staff_client, PETSTORE_YAML)

    api.refresh_from_db()
    assert api.state == "deprecated"
    assert [e.from_state for e in history_of(api)] == ["deprecated", "published", "design"]


def test_a_title_taken_by_another_version_gets_a_new_slug(staff_client):
    ApiFactory(slug="pet-store-1-0-2", name="Pet Store", version="0.9")

    response = post_yaml(staff_client, PETSTORE_YAML)

    assert response.status_code == 201
    assert response.json()["slug"] == "pet-store-1-0-2-2"


@pytest.mark.parametrize(
    ("document", "location", "words"),
    [
        ('{"openapi": "3.0.3", "info": {"title": "x"}, "paths": {}}', "$.info", "'version'"),
        ('{"openapi": "2.0", "info": {}}', "$.openapi", "3.0 and 3.1"),
        ("[1, 2]", "$", "JSON object"),
        ("openapi: [unclosed", "$", "Not YAML"),
        ('{"openapi": ', "$", "Not usable as JSON"),
        ("a: &x [1]\nb: *x\n", "$", "aliases"),
        (
            '{"openapi": "3.1.0", "info": {"title": "x", "version": "1"}, "paths": {"/a": {"get":'
            ' {"responses": {"200": {"$ref": "http://127.0.0.1:9/r.json"}}}}}}',
            "$",
            "only references inside the document",
        ),
        (
            '{"openapi": "3.1.0", "info": {"title": "x", "version": "1"}, "paths": {"/a": '
            '{"get": {"responses": "none"}}}}',
            "$.paths['/a'].get.responses",
            "not of type 'object'",
        ),
    ],
)
def test_invalid_documents_get_400_naming_problem_and_place(
    staff_client, document, location, words
):
    response = post_yaml(staff_client, document)

    body = assert_problem(response, 400)
    assert body["location"] == location
    assert words in body["detail"]
    assert not Api.objects.exists()


@override_settings(PORTCULLIS={"CATALOG": {"OPENAPI_MAX_BYTES": 200}})
def test_document_over_the_size_limit_is_refused(staff_client):
    body = assert_problem(post_yaml(staff_client, PETSTORE_YAML), 400)

    assert "over 200 bytes" in body["detail"]


def test_developers_cannot_import(alice_client, anon_client):
    assert post_yaml(alice_client, PETSTORE_YAML).status_code == 403
    assert post_yaml(anon_client, PETSTORE_YAML).status_code in (401, 403)
    assert not Api.objects.exists()


def test_imported_api_publishes_through_the_lifecycle(staff_client, staff):
    post_yaml(staff_client, PETSTORE_YAML)
    api = Api.objects.get()
    PlanFactory(api=api)

    published = staff_client.post(
        f"/api/v1/apis/{api.slug}/transition/", {"to": "published"}, format="json"
    )

    assert published.status_code == 200
    assert published.json()["state"] == "published"


def test_a_new_api_needs_a_server_in_the_document(staff_client):
    body = assert_problem(
        post_yaml(staff_client, PETSTORE_YAML.replace("servers", "x-servers")), 400
    )

    assert body["location"] == "$.servers"
    assert not Api.objects.exists()


def test_a_request_without_a_document_is_a_400(staff_client):
    response = staff_client.generic("POST", IMPORT, b"", content_type="")

    body = assert_problem(response, 400)
    assert "JSON object" in body["detail"]
