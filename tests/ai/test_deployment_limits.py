"""Deployments' declared tokens per minute and their own API keys; prompt APIs on deployments."""

from __future__ import annotations

import os
import time
from decimal import Decimal

import httpx
import openai
import pytest
from django.db import connection

from apis.ai import routing
from apis.ai.models import Deployment
from apis.ai.services import prompt_save, provider_save
from apis.models import Api
from apis.services import api_transition
from tests.ai.conftest import PROVIDER_KEY, client_for, publish_ai_api
from tests.ai.fakes import FakeProvider, StreamingProvider
from tests.apis.test_admin_api_page import change_url, form_data
from tests.factories import ApiFactory, ApplicationFactory, PlanFactory, SubscriptionFactory
from tests.gateway.conftest import needs_postgres, needs_redis
from tests.servers import GatewayServer
from tests.tokens import token_for

HELLO = [{"role": "user", "content": "Say hello"}]
one_kind = pytest.mark.parametrize("kind", ["openai"])


def deploy(api: Api, name: str, provider, model: str, *, api_key: str = "", **fields) -> None:
    deployment = Deployment(api=api, name=name, provider=provider, model=model, **fields)
    deployment.set_api_key(api_key)
    deployment.save()


def least_busy(provider, **fields) -> Api:
    api = publish_ai_api(provider, **fields)
    api.routing = Api.Routing.LEAST_BUSY
    api.save()
    return api


def answered_by(sdk: openai.OpenAI, max_tokens: int) -> str:
    answer = sdk.chat.completions.with_raw_response.create(
        model="x", messages=HELLO, max_tokens=max_tokens
    )
    return answer.headers["X-Model"]


@one_kind
def test_a_deployment_takes_calls_while_their_worst_case_fits_its_tpm(
    provider, fake, live_server, alice
):
    api = least_busy(provider)
    deploy(api, "a-small", provider, "ok-model", tpm=300)
    deploy(api, "b-big", provider, "tool-model")
    sdk = client_for(api, live_server, alice)

    # Each reserves about 210 tokens (its input and max_tokens 200) and settles to the 18 it
    # used, so the next fits again; unsettled, the second would not (420 > 300).
    labels = [answered_by(sdk, 200) for _ in range(3)]
    # 54 used, and 410 more could not fit under 300 whatever is settled.
    labels.append(answered_by(sdk, 400))

    assert labels == ["a-small", "a-small", "a-small", "b-big"]
    assert [body["model"] for _, _, body in fake.requests] == ["ok-model"] * 3 + ["tool-model"]


@one_kind
def test_with_no_deployment_able_to_fit_the_call_the_answer_is_429_with_retry_after(
    provider, fake, live_server, alice
):
    api = least_busy(provider)
    deploy(api, "tiny", provider, "ok-model", tpm=100)
    sdk = client_for(api, live_server, alice)

    with pytest.raises(openai.RateLimitError) as refused:
        sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=200)

    assert 1 <= int(refused.value.response.headers["Retry-After"]) <= 60
    assert "tokens per minute" in refused.value.message
    assert fake.requests == []


@one_kind
def test_a_call_naming_no_maximum_is_held_to_the_plans_output_cap_under_a_tpm(
    provider, fake, live_server, alice
):
    api = least_busy(provider)
    deploy(api, "capped", provider, "ok-model", tpm=100_000)
    plan = api.plans.get()
    plan.max_output_tokens = 123
    plan.save()
    sdk = client_for(api, live_server, alice)

    sdk.chat.completions.create(model="x", messages=HELLO)

    [(_, _, body)] = fake.requests
    assert body["max_completion_tokens"] == 123


def _wait_out_the_end_of_a_minute() -> None:
    # The windows are calendar minutes: begin where the whole test fits in one.
    if routing.seconds_to_next_minute() < 15:
        time.sleep(routing.seconds_to_next_minute())


@needs_postgres
@needs_redis
@pytest.mark.django_db(transaction=True)
def test_a_reservation_in_a_deployments_minute_is_seen_by_every_process(alice):
    _wait_out_the_end_of_a_minute()
    with StreamingProvider(chunks=600, interval=0.05) as held, FakeProvider("openai") as calm:
        holding = provider_save(name="holding", kind="openai_compatible", base_url=held.base_url)
        answering = provider_save(name="answering", kind="openai", base_url=calm.base_url)
        api = least_busy(answering)
        deploy(api, "a-held", holding, "m", tpm=300)
        deploy(api, "b-calm", answering, "ok-model")
        application = ApplicationFactory(owner=alice)
        SubscriptionFactory(application=application, api=api, plan=api.plans.get())
        headers = {"Authorization": f"Bearer {token_for(application)}"}
        body = {"model": "x", "messages": HELLO, "max_tokens": 200}
        env = {"REDIS_URL": os.environ["REDIS_URL"]}
        path = f"/gw/{api.slug}/chat/completions"
        with GatewayServer(env=env) as first, GatewayServer(env=env) as second:
            streamed = {**body, "stream": True}
            with httpx.stream(
                "POST", first.url + path, json=streamed, headers=headers, timeout=20
            ) as open_stream:
                # Its first chunk is here: the call holds about 210 of a-held's 300 tokens.
                assert open_stream.headers["X-Model"] == "a-held"
                # Kept: an iterator dropped would close the stream, and the call with it.
                lines = open_stream.iter_lines()
                next(lines)
                other = httpx.post(second.url + path, json=body, headers=headers, timeout=20)
                assert held.open == 1

    assert other.headers["X-Model"] == "b-calm"
    assert [sent["model"] for _, _, sent in calm.requests] == ["ok-model"]


@one_kind
def test_a_deployment_calls_with_its_own_key_and_the_database_keeps_it_sealed(
    provider, fake, live_server, alice
):
    api = least_busy(provider)
    deploy(api, "a-own", provider, "ok-model", api_key="sk-deployment-own", rpm=1)
    deploy(api, "b-shared", provider, "tool-model")
    sdk = client_for(api, live_server, alice)

    labels = [answered_by(sdk, 50) for _ in range(2)]

    assert labels == ["a-own", "b-shared"]
    keys = [headers["Authorization"] for _, headers, _ in fake.requests]
    assert keys == ["Bearer sk-deployment-own", f"Bearer {PROVIDER_KEY}"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM apis_deployment")
        stored = repr(cursor.fetchall())
    assert "a-own" in stored and "sk-deployment-own" not in stored


@one_kind
def test_the_admin_takes_a_deployments_key_and_never_shows_it(provider, fake, admin_client):
    api = least_busy(provider)
    deploy(api, "east", provider, "ok-model")
    deployment = api.deployments.get()
    inline = {
        f"deployments-0-{name}": value
        for name, value in {
            "id": deployment.pk,
            "api": api.pk,
            "name": "east",
            "provider": provider.pk,
            "model": "ok-model",
            "weight": 1,
            "api_key": "sk-typed-in-admin",
        }.items()
    }
    management = {"deployments-TOTAL_FORMS": "1", "deployments-INITIAL_FORMS": "1"}

    saved = admin_client.post(change_url(api), form_data(admin_client, api, **inline, **management))

    assert saved.status_code == 302
    deployment.refresh_from_db()
    assert deployment.own_api_key() == "sk-typed-in-admin"
    assert "sk-typed-in-admin" not in deployment.sealed_api_key
    again = admin_client.get(change_url(api))
    assert "sk-typed-in-admin" not in again.text


def save_prompt(api: Api, provider, *, system: str = "") -> None:
    prompt_save(
        api=api,
        actor=None,
        model=f"{provider.name}/ok-model",
        system=system,
        template="Summarise {{text}}",
        variables={"type": "object", "properties": {"text": {"type": "string"}}},
        output="text",
        output_schema=None,
    )


def published_prompt(provider, **fields) -> Api:
    api = ApiFactory(slug="summary", kind=Api.Kind.PROMPT, upstream_url="", **fields)
    PlanFactory(api=api, name="basic", rate_limit="1000/m")
    save_prompt(api, provider)
    api_transition(api=api, to="published", actor=None)
    return api


def prompt_caller(api: Api, live_server, owner) -> httpx.Client:
    application = ApplicationFactory(owner=owner)
    SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    headers = {"Authorization": f"Bearer {token_for(application)}"}
    return httpx.Client(base_url=f"{live_server.url}/gw/{api.slug}", headers=headers, timeout=10)


@one_kind
def test_a_prompt_api_is_served_by_its_deployments_cooldown_and_all(
    provider, fake, live_server, alice
):
    api = published_prompt(provider, routing=Api.Routing.LEAST_BUSY)
    deploy(api, "a-hot", provider, "error-429")
    deploy(api, "b-calm", provider, "tool-model")
    client = prompt_caller(api, live_server, alice)

    answers = [client.post("/", json={"text": "x"}) for _ in range(2)]

    assert [a.status_code for a in answers] == [200, 200]
    assert [a.headers["X-Model"] for a in answers] == ["b-calm", "b-calm"]
    assert answers[0].json()["model"] == "b-calm"
    # The second call never went to the deployment cooling down.
    assert [body["model"] for _, _, body in fake.requests] == ["error-429", *["tool-model"] * 2]


@one_kind
def test_a_prompt_apis_answers_are_cached_per_version_of_the_prompt(
    provider, fake, live_server, alice
):
    api = published_prompt(provider, cache_ttl=60)
    client = prompt_caller(api, live_server, alice)

    first = client.post("/", json={"text": "x"})
    second = client.post("/", json={"text": "x"})
    save_prompt(api, provider, system="Be brief.")
    time.sleep(1.1)  # the catalog's lookups are refreshed within a second
    third = client.post("/", json={"text": "x"})

    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert second.json()["output"] == first.json()["output"]
    assert Decimal(first.json()["cost"]) > 0 and second.json()["cost"] == "0"
    assert third.headers["X-Cache"] == "MISS"
    assert len(fake.requests) == 2
