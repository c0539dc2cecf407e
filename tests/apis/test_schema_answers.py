"""What the management API's schema promises about answers and input, checked one by one."""

from __future__ import annotations

from tests.factories import ApiFactory
from tests.problems import assert_problem

REST_API = {"slug": "weather", "name": "Weather", "upstream_url": "http://127.0.0.1:9/weather"}


def schema(client) -> dict:
    return client.get("/api/v1/schema/?format=json").json()


def test_every_operation_documents_its_errors_as_problem_json(staff_client):
    document = schema(staff_client)

    problem = document["components"]["responses"]["NotFound"]["content"]
    assert problem == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert all({"400", "401"} <= op["responses"].keys() for op in operations)
    transition = document["paths"]["/api/v1/apis/{slug}/transition/"]["post"]["responses"]
    assert {"403", "404", "409", "415"} <= transition.keys()


def test_history_rows_are_documented_as_they_are_sent(staff_client):
    api = ApiFactory(published=True)
    row = staff_client.get(f"/api/v1/apis/{api.slug}/history/").json()["results"][0]
    history = schema(staff_client)["components"]["schemas"]["History"]

    assert set(row) == set(history["properties"]) == set(history["required"])
    assert row["from"] == "design" and row["sunset"] is None
    assert history["properties"]["sunset"]["nullable"] is True


def test_plans_are_documented_as_the_plain_list_they_are(staff_client):
    api = ApiFactory(published=True)
    answer = staff_client.get(f"/api/v1/apis/{api.slug}/plans/").json()
    documented = schema(staff_client)["paths"]["/api/v1/apis/{slug}/plans/"]["get"]

    assert isinstance(answer, list)
    assert documented["responses"]["200"]["content"]["application/json"]["schema"]["type"] == (
        "array"
    )


def test_a_page_that_is_not_a_whole_number_is_refused_by_name(staff_client):
    for query in ("limit=abc", "limit=0", "offset=-1", "offset=null"):
        body = assert_problem(staff_client.get(f"/api/v1/apis/?{query}"), 400)
        assert query.split("=")[0] in body["errors"], query


def test_a_limit_past_the_maximum_gets_the_maximum(staff_client):
    response = staff_client.get(f"/api/v1/apis/?limit={'9' * 40}&offset={'9' * 40}")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_values_of_another_json_type_are_refused_by_name(staff_client):
    body = {**REST_API, "cache_ttl": "30", "public_cache": 1, "name": 7}
    problem = assert_problem(staff_client.post("/api/v1/apis/", body, format="json"), 400)

    assert set(problem["errors"]) == {"cache_ttl", "public_cache", "name"}


def test_a_target_without_url_in_a_patch_is_refused_not_a_500(staff_client):
    api = ApiFactory()
    body = {"targets": [{"weight": 1}]}
    problem = assert_problem(
        staff_client.patch(f"/api/v1/apis/{api.slug}/", body, format="json"), 400
    )
    assert "targets.0.url" in problem["errors"] or "targets[0].url" in problem["errors"]


def test_a_document_the_validator_cannot_walk_is_refused_not_a_500(staff_client):
    document = (
        '{"openapi": "3.0.3", "info": {"title": "A", "version": "1"}, '
        '"servers": [{"url": "http://a.example"}], "paths": {"x-extra": 42}}'
    )
    response = staff_client.post("/api/v1/apis/import/", document, content_type="application/json")
    assert_problem(response, 400)


def test_importing_onto_an_unknown_slug_answers_404(staff_client):
    response = staff_client.post(
        "/api/v1/apis/import/?slug=nothing-here", "{}", content_type="application/json"
    )
    assert_problem(response, 404)


def test_a_multipart_body_without_boundary_at_the_token_endpoint_is_no_500(anon_client, alice):
    response = anon_client.post(
        "/api/v1/auth/token/", "username=alice", content_type="multipart/form-data"
    )
    assert_problem(response, 415)
