"""The Responses, Messages and embeddings surfaces, through the official SDKs, over every kind."""

from __future__ import annotations

import json
from decimal import Decimal

import anthropic
import openai
import pytest

from apis.ai.models import ProviderModel
from tests.ai.conftest import accounted_event, client_for, publish_ai_api
from tests.ai.fakes import COMPLETION_TOKENS, PROMPT_TOKENS, WORDS, vector
from tests.factories import ApplicationFactory, SubscriptionFactory
from tests.tokens import token_for

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "".join(WORDS)
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
# The provider's own prices in the fixture: 2 and 8 dollars per million tokens.
COST = (PROMPT_TOKENS * 2 + COMPLETION_TOKENS * 8) / Decimal(1_000_000)
EMBEDDING_KINDS = ["openai", "mistral", "openai_compatible", "gemini", "ollama"]


def claude_for(api, live_server, owner) -> anthropic.Anthropic:
    """The official Anthropic SDK, its api_key the subscribed application's token."""
    application = ApplicationFactory(owner=owner)
    SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    return anthropic.Anthropic(
        base_url=f"{live_server.url}/gw/{api.slug}", api_key=token_for(application), max_retries=0
    )


@pytest.fixture
def claude(ai_api, live_server, alice) -> anthropic.Anthropic:
    return claude_for(ai_api, live_server, alice)


def assert_charged_as_reported():
    event = accounted_event()
    assert (event.prompt_tokens, event.completion_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert event.cost == COST
    assert not event.estimated


# Responses -------------------------------------------------------------------------------------


def test_responses_answer_in_openais_shape_with_the_providers_usage(sdk, ai_api):
    response = sdk.responses.create(model="ok-model", input="hi", instructions="Be brief.")

    assert response.output_text == TEXT
    assert response.model == ai_api.model
    assert (response.usage.input_tokens, response.usage.output_tokens) == (
        PROMPT_TOKENS,
        COMPLETION_TOKENS,
    )
    assert_charged_as_reported()


def test_streamed_responses_arrive_as_the_responses_event_stream(sdk):
    with sdk.responses.stream(model="ok-model", input="hi") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()

    assert "".join(deltas) == TEXT
    assert final.output_text == TEXT
    assert final.usage.output_tokens == COMPLETION_TOKENS
    assert_charged_as_reported()


def test_responses_function_call_round_trip(sdk, fake):
    tool = {"type": "function", **WEATHER}
    first = sdk.responses.create(model="tool-model", input="Weather in Paris?", tools=[tool])
    call = next(item for item in first.output if item.type == "function_call")
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})

    second = sdk.responses.create(
        model="ok-model",
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"},
        ],
        tools=[tool],
    )

    assert second.output_text == TEXT
    assert "sunny, 21C" in json.dumps(fake.requests[-1][2])


def test_streamed_responses_function_call_arguments_arrive_as_deltas(sdk):
    tool = {"type": "function", **WEATHER}
    with sdk.responses.stream(model="tool-model", input="Paris?", tools=[tool]) as stream:
        deltas = [e.delta for e in stream if e.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()

    assert json.loads("".join(deltas)) == {"city": "Paris"}
    assert final.output[-1].type == "function_call"


@pytest.mark.parametrize("kind", ["openai"])
def test_responses_go_to_openai_untranslated_and_unstored(sdk, fake):
    sdk.responses.create(model="ok-model", input="hi", metadata={"team": "blue"})

    path, _, body = fake.requests[-1]
    assert path == "/v1/responses"
    assert (body["input"], body["store"], body["metadata"]) == ("hi", False, {"team": "blue"})


@pytest.mark.parametrize("kind", ["anthropic"])
@pytest.mark.parametrize(
    "stateful",
    [{"previous_response_id": "resp_123"}, {"store": True}],
    ids=["previous_response_id", "store"],
)
def test_stored_conversations_are_refused_with_openais_400(sdk, stateful):
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.responses.create(model="ok-model", input="hi", **stateful)

    assert next(iter(stateful)) in raised.value.message
    assert "keeps no" in raised.value.message


def test_responses_errors_reach_the_openai_sdk_with_their_status(provider, live_server, alice):
    sdk = client_for(publish_ai_api(provider, model="error-429"), live_server, alice)

    with pytest.raises(openai.RateLimitError) as limited:
        sdk.responses.create(model="x", input="hi")
    with pytest.raises(openai.BadRequestError) as invalid:
        sdk.responses.create(model="x", input="hi", tools=[{"type": "web_search"}])

    assert limited.value.body["message"].endswith("Fake refusal 429")
    assert invalid.value.body["param"] == "tools"


# Messages --------------------------------------------------------------------------------------


def test_messages_answer_in_anthropics_shape(claude, ai_api):
    message = claude.messages.create(
        model="ok-model",
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": "hi"}],
    )

    assert message.content[0].text == TEXT
    assert message.model == ai_api.model
    assert (message.usage.input_tokens, message.usage.output_tokens) == (
        PROMPT_TOKENS,
        COMPLETION_TOKENS,
    )
    assert_charged_as_reported()


def test_streamed_messages_arrive_as_anthropics_event_stream(claude):
    with claude.messages.stream(
        model="ok-model", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text == TEXT
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == COMPLETION_TOKENS
    assert_charged_as_reported()


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_messages_tool_use_round_trip(claude, fake, streamed):
    tools = [{"name": "get_weather", "input_schema": WEATHER["parameters"]}]
    question = {"role": "user", "content": "Weather in Paris?"}
    if streamed:
        with claude.messages.stream(
            model="tool-model", max_tokens=100, messages=[question], tools=tools
        ) as stream:
            first = stream.get_final_message()
    else:
        first = claude.messages.create(
            model="tool-model", max_tokens=100, messages=[question], tools=tools
        )
    use = next(block for block in first.content if block.type == "tool_use")
    assert first.stop_reason == "tool_use"
    assert (use.name, use.input) == ("get_weather", {"city": "Paris"})

    second = claude.messages.create(
        model="ok-model",
        max_tokens=100,
        tools=tools,
        messages=[
            question,
            {"role": "assistant", "content": [use.model_dump()]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}],
            },
        ],
    )

    assert second.content[0].text == TEXT
    assert "sunny" in json.dumps(fake.requests[-1][2])


def test_messages_errors_reach_the_anthropic_sdk_in_its_shape(provider, live_server, alice):
    api = publish_ai_api(provider, model="error-429")
    claude = claude_for(api, live_server, alice)
    hello = [{"role": "user", "content": "hi"}]

    with pytest.raises(anthropic.RateLimitError) as limited:
        claude.messages.create(model="x", max_tokens=10, messages=hello)
    with pytest.raises(anthropic.BadRequestError) as invalid:
        claude.messages.create(model="x", max_tokens=0, messages=hello)
    stranger = anthropic.Anthropic(base_url=str(claude.base_url), api_key="nope", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as refused:
        stranger.messages.create(model="x", max_tokens=10, messages=hello)

    assert limited.value.body["error"]["type"] == "rate_limit_error"
    assert invalid.value.body == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "max_tokens: a positive integer is required.",
        },
    }
    assert refused.value.body["type"] == "error"


@pytest.mark.parametrize("kind", ["anthropic"])
def test_a_messages_stream_broken_off_fails_in_the_sdk_and_is_charged_estimated(
    provider, live_server, alice
):
    claude = claude_for(publish_ai_api(provider, model="breaks-midway"), live_server, alice)

    with (
        pytest.raises(anthropic.APIStatusError, match="Overloaded"),
        claude.messages.stream(
            model="breaks-midway", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        list(stream.text_stream)

    event = accounted_event()
    assert event.estimated
    assert event.prompt_tokens == PROMPT_TOKENS  # message_start's count is kept
    assert event.completion_tokens == 2  # "Hello from", counted here


def test_count_tokens_is_the_anthropic_providers_count_or_400(claude, kind):
    hello = [{"role": "user", "content": "hi"}]
    if kind != "anthropic":
        with pytest.raises(anthropic.BadRequestError, match=kind):
            claude.messages.count_tokens(model="ok-model", messages=hello)
        return

    assert claude.messages.count_tokens(model="ok-model", messages=hello).input_tokens == 11


# Embeddings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", EMBEDDING_KINDS)
def test_embeddings_in_openais_format_from_every_kind_that_has_them(sdk, kind):
    # The SDK asks for base64 and decodes it: the vectors must survive that.
    result = sdk.embeddings.create(model="ok-model", input=["one", "two"], dimensions=4)
    floats = sdk.embeddings.create(model="ok-model", input="one", encoding_format="float")

    assert [row.embedding for row in result.data] == [vector(0, 4), vector(1, 4)]
    assert floats.data[0].embedding == vector(0, None)
    event = accounted_event()
    assert event.prompt_tokens > 0
    assert event.estimated == (kind == "gemini")


@pytest.mark.parametrize("kind", ["anthropic"])
def test_embeddings_of_a_kind_without_them_answer_400_naming_it(sdk):
    with pytest.raises(openai.BadRequestError, match="anthropic"):
        sdk.embeddings.create(model="ok-model", input="one")


# Estimated counts ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["openai_compatible"])
def test_a_stream_without_usage_is_counted_here_and_marked_estimated(provider, live_server, alice):
    ProviderModel.objects.create(
        provider=provider, name="no-usage", input_cost_per_mtok=2, output_cost_per_mtok=8
    )
    sdk = client_for(publish_ai_api(provider, model="no-usage"), live_server, alice)

    chunks = list(
        sdk.chat.completions.create(
            model="no-usage",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    event = accounted_event()
    assert event.estimated
    assert event.completion_tokens == 4  # "Hello from the fake", counted with cl100k
    assert event.prompt_tokens > 0
    assert event.cost == (event.prompt_tokens * 2 + 4 * 8) / Decimal(1_000_000)
    assert chunks[-1].usage.completion_tokens == 4
