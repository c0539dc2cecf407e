"""`GET /api/v1/usage/`: owners see their own applications' usage, staff all; bad input is 400."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apis.services import api_transition
from apis.usage.services import usage_events_store, usage_rollup
from tests.factories import ApiFactory, ApplicationFactory, TeamFactory
from tests.usage.conftest import DAY, NEXT_DAY, NOON, record

pytestmark = pytest.mark.django_db

URL = "/api/v1/usage/"


@pytest.fixture
def usage(api, alice_app, bob_app):
    """Alice's app called twice at noon and once the next day; Bob's app once."""
    usage_events_store(
        entries=[
            ("1-0", record(api, alice_app, status=200)),
            ("2-0", record(api, alice_app, status=503)),
            ("3-0", record(api, alice_app, at=NOON + timedelta(days=1))),
            ("4-0", record(api, bob_app)),
        ]
    )
    usage_rollup()


def rows(client, **params) -> list[dict]:
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_developer_sees_only_their_own_applications(usage, alice_client, bob_client, alice_app):
    assert {row["application"] for row in rows(alice_client)} == {alice_app.pk}
    assert len(rows(bob_client)) == 1
    assert all(row["application"] != alice_app.pk for row in rows(bob_client))


def test_a_member_of_two_teams_sees_both_teams_rows_and_no_others(api, alice, alice_client):
    shared = ApplicationFactory(team=TeamFactory(members={alice: "viewer"}), name="shared")
    own, other = ApplicationFactory(owner=alice), ApplicationFactory()
    usage_events_store(
        entries=[(f"{n}-0", record(api, app)) for n, app in enumerate([shared, own, other])]
    )
    usage_rollup()

    seen = rows(alice_client, granularity="day")

    assert sorted(row["application"] for row in seen) == sorted([shared.pk, own.pk])
    assert rows(alice_client, application=shared.pk, api=api.slug)[0]["requests"] == 1


def test_a_page_of_many_rows_costs_no_more_queries_than_one_row(api, alice_app, alice_client):
    usage_events_store(entries=[("0-0", record(api, alice_app))])
    usage_rollup()
    with CaptureQueriesContext(connection) as one:
        assert len(rows(alice_client)) == 1
    hours_before = [record(api, alice_app, at=NOON - timedelta(hours=n)) for n in range(1, 20)]
    usage_events_store(entries=[(f"{n}-0", r) for n, r in enumerate(hours_before, start=1)])
    usage_rollup()

    with CaptureQueriesContext(connection) as many:
        assert len(rows(alice_client)) == 20

    assert len(many) == len(one)


def test_staff_sees_every_application(usage, staff_client):
    assert len(rows(staff_client)) == 3


def test_rows_carry_the_contract_fields(usage, alice_client):
    row = rows(alice_client, granularity="day", since=f"{DAY}T00:00:00Z")[-1]
    assert row["period_start"] == f"{DAY}T00:00:00Z"
    assert row["api"] == "weather"
    assert (row["requests"], row["errors"]) == (2, 1)
    assert {"prompt_tokens", "completion_tokens", "cost", "p50_ms", "p95_ms"} <= row.keys()


def test_since_and_api_narrow_the_rows(usage, alice_client):
    assert len(rows(alice_client, since=NEXT_DAY)) == 1
    assert rows(alice_client, api=ApiFactory(slug="other", published=True).slug) == []


def test_a_hidden_api_and_a_missing_one_get_the_same_answer(alice_client, staff_client):
    ApiFactory(slug="secret-project")

    hidden = alice_client.get(URL, {"api": "secret-project"})
    missing = alice_client.get(URL, {"api": "no-such-api"})

    assert hidden.status_code == missing.status_code == 400
    assert hidden.json()["errors"]["api"] == missing.json()["errors"]["api"]
    assert staff_client.get(URL, {"api": "secret-project"}).status_code == 200


def test_a_developer_still_reads_usage_of_a_retired_api_they_used(usage, alice_client, api):
    api_transition(api=api, to="deprecated", actor=None)
    api_transition(api=api, to="retired", actor=None)

    assert len(rows(alice_client, api=api.slug)) == 2


def test_bob_naming_alices_application_is_refused(usage, bob_client, alice_app):
    response = bob_client.get(URL, {"application": alice_app.pk})
    assert response.status_code == 400
    assert "application" in response.json()["errors"]


@pytest.mark.parametrize(
    ("param", "value"),
    [("granularity", "week"), ("since", "yesterday"), ("api", "no-such-api"), ("colour", "red")],
)
def test_bad_parameter_answers_400_problem_naming_it(alice_client, param, value):
    response = alice_client.get(URL, {param: value})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert param in response.json()["errors"]
    assert param in response.json()["detail"]


def test_anonymous_caller_is_refused(anon_client):
    response = anon_client.get(URL)
    assert response.status_code in (401, 403)
    assert response["Content-Type"] == "application/problem+json"


def test_estimated_tokens_are_a_total_of_their_own(api, alice_app, alice_client):
    usage_events_store(
        entries=[
            ("1-0", record(api, alice_app, prompt_tokens=10, completion_tokens=5, estimated=True)),
            ("2-0", record(api, alice_app, prompt_tokens=20, reasoning_tokens=3)),
        ]
    )
    usage_rollup()

    row = rows(alice_client, granularity="day")[0]

    assert (row["prompt_tokens"], row["estimated_tokens"], row["reasoning_tokens"]) == (30, 15, 3)
