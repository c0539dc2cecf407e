"""Fixtures of the AI tests: fake providers on loopback, AI APIs published on them, a client."""

from __future__ import annotations

import time

import openai
import pytest

from apis.ai.services import provider_save
from apis.models import Api
from apis.services import api_transition
from apis.usage.models import UsageEvent
from apis.usage.services import usage_ingest
from tests.ai.fakes import FakeProvider
from tests.factories import ApiFactory, ApplicationFactory, PlanFactory, SubscriptionFactory
from tests.tokens import token_for

KINDS = ["openai", "mistral", "openai_compatible", "anthropic", "gemini", "ollama"]
PROVIDER_KEY = "sk-provider-secret"


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


@pytest.fixture
def fake(kind):
    with FakeProvider(kind) as server:
        yield server


@pytest.fixture
def provider(db, fake):
    return provider_on(fake)


def provider_on(fake: FakeProvider, name: str = ""):
    """The fake provider in the catalog, its ok-model at $2 in and $8 out per million tokens."""
    return provider_save(
        name=name or f"fake-{fake.flavour.replace('_', '-')}",
        kind=fake.flavour,
        base_url=fake.base_url,
        api_key=PROVIDER_KEY,
        models=[{"name": "ok-model", "input_cost_per_mtok": "2", "output_cost_per_mtok": "8"}],
    )


def publish_ai_api(
    provider, *, model: str = "ok-model", fallbacks=(), token_quota=None, **fields
) -> Api:
    """An `ai` API on the provider, published with one plan."""
    api = ApiFactory(
        slug=fields.pop("slug", "chat"),
        kind=Api.Kind.AI,
        upstream_url="",
        model=f"{provider.name}/{model}",
        fallbacks=list(fallbacks),
        **fields,
    )
    PlanFactory(api=api, name="basic", rate_limit="1000/m", token_quota=token_quota)
    api_transition(api=api, to="published", actor=None)
    return api


def client_for(api: Api, live_server, owner) -> openai.OpenAI:
    """The official OpenAI SDK, pointed at the gateway with a subscribed application's token."""
    application = ApplicationFactory(owner=owner)
    SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    return openai.OpenAI(
        base_url=f"{live_server.url}/gw/{api.slug}", api_key=token_for(application), max_retries=0
    )


@pytest.fixture
def ai_api(provider):
    """An `ai` API answering with ok-model, or tool-model when the client names it."""
    return publish_ai_api(provider, fallbacks=[f"{provider.name}/tool-model"])


@pytest.fixture
def sdk(ai_api, live_server, alice) -> openai.OpenAI:
    return client_for(ai_api, live_server, alice)


def accounted_event() -> UsageEvent:
    """The first usage event recorded, once the server has accounted the call.

    The server accounts a stream once it has sent the last chunk (or lost its client), a moment
    after the client is done with it: wait for the event rather than race the server.
    """
    deadline = time.monotonic() + 5
    while True:
        usage_ingest()
        event = UsageEvent.objects.first()
        if event is not None or time.monotonic() > deadline:
            assert event is not None, "the call was never accounted"
            return event
        time.sleep(0.02)
