"""Arbitrary JSON at every create endpoint of the management API: a clear 4xx, never a 500."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from apis.models import Api
from tests.factories import ApiFactory, ApplicationFactory

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=150,
    deadline=None,
    # The fixtures' users, APIs and applications may be shared by every example on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Fresh names per example, so that a valid body is not refused merely as a duplicate.
serial = itertools.count()

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text()
    | st.sampled_from(["", "rest", "ai", "prompt", "published", "a/b", "60/m", "http://x.example"])
    | st.datetimes().map(lambda value: value.isoformat())
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
)

# Found by this test once each; kept so that they are tried on every run.
TOO_DEEP = "[" * 100_000 + "]" * 100_000
NUL_IN_DOCUMENT = {"openapi": {"paths\x00": "\x00"}}

API_FIELDS = {
    "slug": st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True),
    "name": st.text(max_size=10),
    "version": st.text(max_size=5),
    "kind": st.sampled_from(["rest", "ai", "prompt"]),
    "upstream_url": st.sampled_from(["http://127.0.0.1:9/", "ftp://x", "not a url"]),
    "model": st.sampled_from(["demo/echo", "x", "/"]),
    "fallbacks": st.lists(st.text(max_size=8), max_size=3),
    "tags": st.lists(st.text(max_size=8), max_size=3),
    "cache_ttl": st.integers(),
    "timeout": st.integers(),
    "require_encrypted_token": st.booleans(),
    "openapi": st.dictionaries(st.text(max_size=5), scalars, max_size=3),
}
PLAN_FIELDS = {
    "name": st.text(max_size=10),
    "rate_limit": st.from_regex(r"\d{1,4}/\d{0,3}[smhdx]", fullmatch=True),
    "monthly_quota": st.integers(),
    "token_quota": st.integers(),
    "requires_approval": st.booleans(),
}
TRANSITION_FIELDS = {
    "to": st.sampled_from(["design", "published", "deprecated", "retired"]),
    "note": st.text(),
    "sunset": st.datetimes().map(lambda value: value.isoformat()),
}


def changed(valid: dict, fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict]:
    """A valid body with some fields left out or replaced, so that bad input gets deep."""
    changes = st.fixed_dictionaries(
        {}, optional={name: json_values | values for name, values in fields.items()}
    )
    dropped = st.sets(st.sampled_from(sorted(valid)), max_size=2)
    return st.builds(
        lambda change, drop: {k: v for k, v in {**valid, **change}.items() if k not in drop},
        changes,
        dropped,
    )


def bodies(valid: dict, fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy[str]:
    """Request bodies: mostly near-valid objects, else any JSON at all, or not JSON."""
    documents = changed(valid, fields) | changed(valid, fields) | json_values
    return documents.map(json.dumps) | st.text(max_size=50)


def post(client, url: str, body: str, method: str = "post") -> None:
    """Send `body`; the answer is a success or a problem+json 4xx."""
    response = getattr(client, method)(url, data=body, content_type="application/json")
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/problem+json")
        assert response.json()["detail"]


def new_api() -> dict:
    number = next(serial)
    return {
        "slug": f"fuzzed-{number}",
        "name": f"Fuzzed {number}",
        "kind": "rest",
        "upstream_url": "http://127.0.0.1:9/",
    }


def existing(slug: str, **kwargs) -> Api:
    return Api.objects.filter(slug=slug).first() or ApiFactory(slug=slug, **kwargs)


@given(data=st.data())
@example(data=None)
@FUZZ
def test_api_create_never_fails_with_500(staff_client, data):
    if data is None:  # the pinned cases
        post(staff_client, "/api/v1/apis/", TOO_DEEP)
        post(staff_client, "/api/v1/apis/", json.dumps({**new_api(), **NUL_IN_DOCUMENT}))
        return
    post(staff_client, "/api/v1/apis/", data.draw(bodies(new_api(), API_FIELDS)))


@given(data=st.data())
@FUZZ
def test_api_patch_never_fails_with_500(staff_client, data):
    existing("patched")
    body = data.draw(bodies(new_api(), API_FIELDS))
    post(staff_client, "/api/v1/apis/patched/", body, method="patch")


@given(data=st.data())
@FUZZ
def test_plan_create_never_fails_with_500(staff_client, data):
    existing("planned")
    valid = {"name": f"plan-{next(serial)}", "rate_limit": "5/m"}
    post(staff_client, "/api/v1/apis/planned/plans/", data.draw(bodies(valid, PLAN_FIELDS)))


@given(body=bodies({"to": "deprecated"}, TRANSITION_FIELDS))
@FUZZ
def test_transition_never_fails_with_500(staff_client, body):
    existing("moving", published=True)
    post(staff_client, "/api/v1/apis/moving/transition/", body)


@given(data=st.data())
@FUZZ
def test_app_create_never_fails_with_500(alice_client, data):
    valid = {"name": f"app-{next(serial)}"}
    post(alice_client, "/api/v1/apps/", data.draw(bodies(valid, {"name": st.text(max_size=120)})))


@given(data=st.data())
@FUZZ
def test_subscription_create_never_fails_with_500(alice_client, alice, bob, data):
    api = existing("open", published=True)
    mine, theirs = ApplicationFactory(owner=alice).pk, ApplicationFactory(owner=bob).pk
    fields = {
        "application": st.sampled_from([mine, theirs, 0]),
        "api": st.sampled_from(["open", "nope", ""]),
        "plan": st.sampled_from([api.plans.first().pk, 0, -1]),
    }
    valid = {"application": mine, "api": "open", "plan": api.plans.first().pk}
    post(alice_client, "/api/v1/subscriptions/", data.draw(bodies(valid, fields)))
