"""Prompt APIs: variables checked and inserted literally, JSON output validated, versions kept."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from apis.ai import targets
from apis.ai.models import PromptEndpoint
from apis.ai.prompts import render
from apis.ai.services import prompt_save, provider_save
from apis.models import Api
from apis.services import api_transition
from tests.ai.fakes import COMPLETION_TOKENS, PROMPT_TOKENS, WORDS, FakeProvider
from tests.asgi import AsgiClient
from tests.factories import ApiFactory, ApplicationFactory, PlanFactory, SubscriptionFactory
from tests.problems import assert_problem
from tests.servers import Upstream
from tests.tokens import token_for

SENTIMENT_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string", "maxLength": 200}, "lang": {"enum": ["en", "fr"]}},
    "required": ["text"],
}
OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {"sentiment": {"enum": ["positive", "negative", "neutral"]}},
    "required": ["sentiment"],
}
MODELS = ("ok-model", "json-ok", "json-bad", "json-flaky")
prompt_of = async_to_sync(targets.prompt_of)
targets_for = async_to_sync(targets.targets_for)


def test_template_syntax_inside_a_variable_stays_literal():
    rendered = render("Rate: {{text}} ({{ lang }})", {"text": "{{lang}} and {% x %}", "lang": "en"})

    assert rendered == "Rate: {{lang}} and {% x %} (en)"


def test_non_text_variables_are_inserted_as_json():
    assert render("n={{n}} tags={{tags}}", {"n": 3, "tags": ["a", "b"]}) == 'n=3 tags=["a", "b"]'


@pytest.fixture
def fake():
    with FakeProvider("openai") as server:
        yield server


@pytest.fixture
def provider(db, fake):
    prices = {"input_cost_per_mtok": "2", "output_cost_per_mtok": "8"}
    models = [{"name": name, **prices} for name in MODELS]
    return provider_save(
        name="fake", kind="openai", base_url=fake.base_url, api_key="k", models=models
    )


def prompt_api(provider, *, model: str = "ok-model", output: str = "text", schema=None) -> Api:
    """A published prompt API classifying the sentiment of `text`."""
    api = ApiFactory(slug="sentiment", kind=Api.Kind.PROMPT, upstream_url="")
    PlanFactory(api=api, name="basic")
    api_transition(api=api, to="published", actor=None)
    prompt_save(
        api=api,
        actor=None,
        model=f"{provider.name}/{model}",
        system="You classify sentiment.",
        template="Text: {{text}}",
        variables=SENTIMENT_SCHEMA,
        output=output,
        output_schema=schema,
    )
    return api


def call(api: Api, owner, payload: Any) -> tuple[int, dict[str, Any]]:
    """POST the variables to the prompt API as a subscribed application; (status, JSON body)."""
    application = ApplicationFactory(owner=owner)
    SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    client = AsgiClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(application)}")
    response = client.post(f"/gw/{api.slug}/", payload, format="json")
    return response.status_code, response.json()


def test_prompt_api_answers_output_model_usage_and_cost(provider, alice, fake):
    status, body = call(prompt_api(provider), alice, {"text": "I love it"})

    assert status == 200
    assert body["output"] == "".join(WORDS)
    assert body["model"] == "fake/ok-model"
    assert body["usage"]["total_tokens"] == PROMPT_TOKENS + COMPLETION_TOKENS
    assert Decimal(body["cost"]) == Decimal(PROMPT_TOKENS * 2 + COMPLETION_TOKENS * 8) / 1_000_000


def test_prompt_sends_system_and_rendered_template_with_variables_literal(provider, alice, fake):
    call(prompt_api(provider), alice, {"text": "great {{text}} {{lang}}"})

    _path, _headers, sent = fake.requests[-1]
    assert sent["messages"] == [
        {"role": "system", "content": "You classify sentiment."},
        {"role": "user", "content": "Text: great {{text}} {{lang}}"},
    ]


@pytest.mark.parametrize(
    ("payload", "field"),
    [({}, "text"), ({"text": 5}, "text"), ({"text": "x", "lang": "de"}, "lang")],
)
def test_variables_not_matching_the_schema_answer_422_naming_the_field(
    provider, alice, payload, field
):
    status, body = call(prompt_api(provider), alice, payload)

    assert status == 422
    assert body["field"] == field
    assert body["detail"].startswith(f"{field}:")


def test_variables_that_are_not_an_object_answer_422(provider, alice):
    status, body = call(prompt_api(provider), alice, ["text"])

    assert status == 422
    assert "JSON object" in body["detail"]


def test_json_output_is_parsed_and_validated(provider, alice):
    api = prompt_api(provider, model="json-ok", output="json", schema=OUTPUT_SCHEMA)

    status, body = call(api, alice, {"text": "I love it"})

    assert status == 200
    assert body["output"] == {"sentiment": "positive"}


def test_invalid_json_output_is_retried_once(provider, alice, fake):
    api = prompt_api(provider, model="json-flaky", output="json", schema=OUTPUT_SCHEMA)

    status, body = call(api, alice, {"text": "I love it"})

    assert status == 200
    assert body["output"] == {"sentiment": "positive"}
    assert len(fake.requests) == 2
    assert body["usage"]["total_tokens"] == 2 * (PROMPT_TOKENS + COMPLETION_TOKENS)


def test_json_output_still_invalid_after_the_retry_answers_502_with_the_reason(
    provider, alice, fake
):
    api = prompt_api(provider, model="json-bad", output="json")

    status, body = call(api, alice, {"text": "I love it"})

    assert status == 502
    assert "not valid JSON" in body["detail"]
    assert len(fake.requests) == 2


def test_output_not_matching_the_output_schema_answers_502(provider, alice):
    schema = {**OUTPUT_SCHEMA, "required": ["sentiment", "score"]}
    api = prompt_api(provider, model="json-ok", output="json", schema=schema)

    status, body = call(api, alice, {"text": "I love it"})

    assert status == 502
    assert "score" in body["detail"]


def test_every_prompt_change_is_a_new_version(provider):
    api = prompt_api(provider)
    fields = {
        "model": "fake/ok-model",
        "system": "You classify sentiment.",
        "template": "Text: {{text}}",
        "variables": SENTIMENT_SCHEMA,
        "output": "text",
        "output_schema": None,
    }

    prompt_save(api=api, actor=None, **fields)
    prompt = prompt_save(api=api, actor=None, **{**fields, "template": "Sentiment of: {{text}}"})

    assert prompt.version == 2
    assert [v.template for v in prompt.versions.all()] == [
        "Sentiment of: {{text}}",
        "Text: {{text}}",
    ]


def test_a_changed_prompt_is_used_from_the_next_call(provider, alice, fake):
    api = prompt_api(provider)
    call(api, alice, {"text": "first"})

    prompt_save(
        api=api,
        actor=None,
        model="fake/ok-model",
        system="You classify sentiment.",
        template="Sentiment of: {{text}}",
        variables=SENTIMENT_SCHEMA,
        output="text",
        output_schema=None,
    )
    call(api, alice, {"text": "second"})

    _path, _headers, sent = fake.requests[-1]
    assert sent["messages"][-1]["content"] == "Sentiment of: second"


def test_warm_prompt_and_model_lookups_make_no_database_query(provider, django_assert_num_queries):
    api = prompt_api(provider)
    refs = ["fake/ok-model", "fake/json-ok"]
    prompt_of(api.pk), targets_for(refs)

    with django_assert_num_queries(0):
        prompt, targets = prompt_of(api.pk), targets_for(refs)

    assert prompt.template == "Text: {{text}}"
    assert [target.ref for target in targets] == refs


def test_a_changed_provider_is_used_from_the_next_call(provider, fake):
    targets_for(["fake/ok-model"])

    with FakeProvider("openai") as moved:
        provider_save(provider=provider, name="fake", kind="openai", base_url=moved.base_url)

        assert targets_for(["fake/ok-model"])[0].provider.base_url == moved.base_url


def test_a_stored_schema_referring_to_a_url_is_never_fetched_at_call_time(provider, alice):
    api = prompt_api(provider)
    with Upstream() as remote:
        remote_schema = {"$ref": f"{remote.url}/schema.json"}
        PromptEndpoint.objects.filter(api=api).update(variables=remote_schema)

        status, body = call(api, alice, {"text": "I love it"})

    assert status == 422
    assert body["field"] == "(schema)"
    assert sum(remote.hits.values()) == 0


def test_a_backtracking_pattern_is_matched_in_linear_time(provider, alice):
    api = prompt_api(provider)
    nested = {"type": "object", "properties": {"text": {"type": "string", "pattern": "^(a+)+$"}}}
    PromptEndpoint.objects.filter(api=api).update(variables=nested)

    started = time.monotonic()
    status, body = call(api, alice, {"text": "a" * 30 + "!"})

    assert time.monotonic() - started < 2
    assert status == 422
    assert body["field"] == "text"


@pytest.mark.parametrize("body", [b'{"text": NaN}', b'{"text": 1e999}', b"[" * 5000 + b"]" * 5000])
def test_variables_json_python_accepts_but_json_does_not_answer_400(provider, alice, fake, body):
    status, problem = call(prompt_api(provider), alice, body)

    assert status == 400
    assert problem["title"] == "Invalid JSON"
    assert not fake.requests


def test_a_prompt_call_that_might_not_fit_the_budget_is_refused_as_a_quota_problem(
    provider, alice, fake
):
    # The prompt names no maximum: the plan's 4,096 output tokens at $8 per million ($0.033)
    # are more than the budget of one cent.
    api = prompt_api(provider)
    api.plans.update(monthly_budget=Decimal("0.01"))
    application = ApplicationFactory(owner=alice)
    SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    client = AsgiClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(application)}")

    refused = client.post(f"/gw/{api.slug}/", {"text": "I love it"}, format="json")

    body = assert_problem(refused, 429)
    assert body["type"] == "https://iana.org/assignments/http-problem-types#quota-exceeded"
    assert body["violated-policies"] == ["budget"]
    assert "monthly budget of $0.0100" in body["detail"]
    assert '"budget";q=1;w=' in refused["RateLimit-Policy"]
    assert '"budget";r=1;t=' in refused["RateLimit"]
    assert int(refused["Retry-After"]) > 0
    assert fake.requests == []
