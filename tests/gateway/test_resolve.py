"""Which APIs the gateway serves: lifecycle states as the client sees them."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import redis
from django.conf import settings

from apis import catalog_cache as lookups
from apis.services import api_transition
from tests.factories import ApiFactory
from tests.gateway.conftest import needs_redis
from tests.gateway.reading import body_of, json_of


def test_unknown_api_answers_404_problem_json(gw):
    response = gw.get("/gw/no-such-api/x")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert json_of(response)["status"] == 404
    assert response["X-Request-ID"]


def test_api_in_design_answers_404(gw, upstream):
    ApiFactory(slug="draft", upstream_url=upstream.url)

    assert gw.get("/gw/draft/x").status_code == 404
    assert not upstream.hits


def test_retired_api_answers_410(gw, api, upstream):
    api_transition(api=api, to="deprecated", actor=None)
    api_transition(api=api, to="retired", actor=None)

    response = gw.get("/gw/orders/x")

    assert response.status_code == 410
    assert json_of(response)["title"] == "API retired"
    assert not upstream.hits


def test_deprecated_api_is_served_with_deprecation_sunset_and_link(gw, api):
    sunset = datetime(2030, 1, 31, 12, 0, tzinfo=UTC)
    api_transition(api=api, to="deprecated", actor=None, sunset=sunset)
    api.refresh_from_db()

    response = gw.get("/gw/orders/x", HTTP_HOST="localhost")

    assert response.status_code == 200
    body_of(response)
    assert response["Deprecation"].startswith("@")
    assert abs(int(response["Deprecation"][1:]) - datetime.now(UTC).timestamp()) < 60
    assert response["Sunset"] == "Thu, 31 Jan 2030 12:00:00 GMT"
    assert response["Link"] == (
        '<http://localhost/apis/orders/>; rel="deprecation"; type="text/html"'
    )


def test_published_api_has_no_deprecation_headers(gw):
    response = gw.get("/gw/orders/x")

    assert "Deprecation" not in response
    assert "Sunset" not in response


@needs_redis
def test_asking_for_unknown_apis_stores_nothing_in_redis_or_in_memory(gw, api):
    gw.get("/gw/orders/x")
    shared = redis.Redis.from_url(settings.REDIS_URL)
    keys, entries = shared.dbsize(), len(lookups._local.entries)

    answers = [gw.get(f"/gw/{secrets.token_hex(n)}/").status_code for n in (4, 40, 1950)]

    assert answers == [404, 404, 404]
    assert shared.dbsize() == keys
    assert len(lookups._local.entries) == entries
