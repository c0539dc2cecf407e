"""Failures of `ai` APIs that do not depend on the provider kind."""

from __future__ import annotations

import httpx
import openai
import pytest

from apis.ai.services import provider_save
from tests.ai.conftest import client_for, publish_ai_api
from tests.ai.fakes import FakeProvider

pytestmark = pytest.mark.django_db(transaction=True)
HELLO = [{"role": "user", "content": "hi"}]


@pytest.fixture
def openai_fake():
    with FakeProvider("openai") as server:
        yield server


@pytest.fixture
def provider(openai_fake):
    return provider_save(name="fake", kind="openai", base_url=openai_fake.base_url, api_key="k")


def test_timeout_falls_back_to_the_next_model(provider, live_server, alice):
    api = publish_ai_api(provider, model="slow", fallbacks=["fake/ok-model"], timeout=1)
    sdk = client_for(api, live_server, alice)

    assert sdk.chat.completions.create(model="x", messages=HELLO).model == "fake/ok-model"


def test_provider_too_slow_answers_504(provider, live_server, alice):
    api = publish_ai_api(provider, model="slow", timeout=1)
    sdk = client_for(api, live_server, alice)

    with pytest.raises(openai.InternalServerError) as raised:
        sdk.chat.completions.create(model="x", messages=HELLO)

    assert raised.value.status_code == 504


def test_unreachable_provider_answers_502(live_server, alice):
    dead = provider_save(name="dead", kind="openai", base_url="http://127.0.0.1:9/v1", api_key="k")
    sdk = client_for(publish_ai_api(dead), live_server, alice)

    with pytest.raises(openai.InternalServerError) as raised:
        sdk.chat.completions.create(model="x", messages=HELLO)

    assert raised.value.status_code == 502


HOSTILE_BODIES = [
    b"{not json",
    b"[" * 5000 + b"]" * 5000,
    b'{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}',
    b'{"messages": [{"role": "user", "content": "hi"}], "temperature": -Infinity}',
    b'{"messages": [{"role": "user", "content": "hi"}], "temperature": 1e999}',
]


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=["broken", "deep", "nan", "inf", "1e999"])
def test_invalid_json_answers_400_in_openais_envelope(provider, live_server, alice, body):
    sdk = client_for(publish_ai_api(provider), live_server, alice)

    response = httpx.post(
        f"{sdk.base_url}chat/completions",
        content=body,
        headers={"Authorization": f"Bearer {sdk.api_key}", "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_missing_messages_answers_400(provider, live_server, alice):
    sdk = client_for(publish_ai_api(provider), live_server, alice)

    with pytest.raises(openai.BadRequestError) as raised:
        sdk.chat.completions.create(model="x", messages=[])

    assert "messages" in raised.value.message


def test_unknown_route_of_an_ai_api_answers_404(provider, live_server, alice):
    sdk = client_for(publish_ai_api(provider), live_server, alice)

    with pytest.raises(openai.NotFoundError):
        sdk.images.generate(model="x", prompt="hello")


def test_streamed_call_falls_back_before_the_first_byte(provider, live_server, alice):
    api = publish_ai_api(provider, model="error-503", fallbacks=["fake/ok-model"])
    sdk = client_for(api, live_server, alice)

    chunks = list(sdk.chat.completions.create(model="x", messages=HELLO, stream=True))

    assert {c.model for c in chunks} == {"fake/ok-model"}


@pytest.fixture
def anthropic_fake():
    with FakeProvider("anthropic") as server:
        yield server


def test_provider_error_inside_a_stream_reaches_the_client_as_an_error(
    anthropic_fake, live_server, alice
):
    claude = provider_save(name="claude", kind="anthropic", base_url=anthropic_fake.base_url)
    sdk = client_for(publish_ai_api(claude, model="breaks-midway"), live_server, alice)

    with pytest.raises(openai.APIError, match="Overloaded"):
        list(sdk.chat.completions.create(model="x", messages=HELLO, stream=True))
