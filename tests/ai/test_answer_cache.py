"""The AI answer cache: opt-in per API, per application unless public, streamed replay, free."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apis.usage.models import UsageEvent
from apis.usage.services import usage_ingest
from tests.ai.conftest import client_for, publish_ai_api

HELLO = [{"role": "user", "content": "Say hello"}]
one_kind = pytest.mark.parametrize("kind", ["openai"])


def cached_api(provider, **fields):
    return publish_ai_api(provider, cache_ttl=60, **fields)


def events() -> list[UsageEvent]:
    usage_ingest()
    return list(UsageEvent.objects.order_by("at", "id"))


@one_kind
def test_an_identical_request_gets_the_stored_answer_at_no_cost(provider, fake, live_server, alice):
    sdk = client_for(cached_api(provider), live_server, alice)

    first = sdk.chat.completions.with_raw_response.create(model="x", messages=HELLO)
    second = sdk.chat.completions.with_raw_response.create(model="x", messages=HELLO)

    assert len(fake.requests) == 1
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert second.text == first.text
    assert second.headers["X-Model"] == first.headers["X-Model"]
    paid, free = events()
    assert (paid.cached, paid.cost > 0) == (False, True)
    assert (free.cached, free.cost, free.prompt_tokens) == (True, Decimal(0), 0)


@one_kind
def test_a_streamed_request_is_replayed_as_a_stream(provider, fake, live_server, alice):
    sdk = client_for(cached_api(provider), live_server, alice)

    def streamed() -> tuple[str, str]:
        with sdk.chat.completions.with_streaming_response.create(
            model="x", messages=HELLO, stream=True
        ) as response:
            text = "".join(
                chunk.choices[0].delta.content or "" for chunk in response.parse() if chunk.choices
            )
            return response.headers.get("X-Cache", ""), text

    assert streamed() == ("MISS", "Hello from the fake")
    assert streamed() == ("HIT", "Hello from the fake")
    assert len(fake.requests) == 1


@one_kind
def test_other_parameters_are_another_request(provider, fake, live_server, alice):
    sdk = client_for(cached_api(provider), live_server, alice)

    sdk.chat.completions.create(model="x", messages=HELLO)
    sdk.chat.completions.create(model="x", messages=HELLO, temperature=0.5)

    assert len(fake.requests) == 2


@one_kind
@pytest.mark.parametrize(("public", "calls"), [(False, 2), (True, 1)])
def test_answers_are_shared_between_applications_only_when_the_api_says_so(
    provider, fake, live_server, alice, bob, public, calls
):
    api = cached_api(provider, public_cache=public)
    for owner in (alice, bob):
        client_for(api, live_server, owner).chat.completions.create(model="x", messages=HELLO)

    assert len(fake.requests) == calls


@one_kind
def test_off_by_default(provider, fake, live_server, alice):
    sdk = client_for(publish_ai_api(provider), live_server, alice)

    for _ in range(2):
        answer = sdk.chat.completions.with_raw_response.create(model="x", messages=HELLO)
        assert "X-Cache" not in answer.headers

    assert len(fake.requests) == 2
