"""`ai` kind APIs through the gateway, for every provider kind, with the official OpenAI SDK."""

from __future__ import annotations

import json
from decimal import Decimal

import openai
import pytest

from tests.ai.conftest import accounted_event, client_for, publish_ai_api
from tests.ai.fakes import COMPLETION_TOKENS, PROMPT_TOKENS, TOOL_ARGS, WORDS

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]


def test_plain_chat_answers_in_openai_format_with_the_providers_token_counts(sdk, provider):
    answer = sdk.chat.completions.create(model="ok-model", messages=HELLO, max_tokens=50)

    assert answer.choices[0].message.content == "".join(WORDS)
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == f"{provider.name}/ok-model"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (
        PROMPT_TOKENS,
        COMPLETION_TOKENS,
    )


def test_provider_gets_its_own_key_never_the_clients_token(sdk, fake):
    sdk.chat.completions.create(model="ok-model", messages=HELLO)

    _path, headers, _body = fake.requests[-1]
    sent = " ".join(headers.values())
    assert "sk-provider-secret" in sent
    assert sdk.api_key not in sent


def test_streamed_chat_arrives_as_openai_chunks_with_usage_at_the_end(sdk):
    stream = sdk.chat.completions.create(
        model="ok-model", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(WORDS)
    assert [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ] == ["stop"]
    assert chunks[-1].choices == []
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (
        PROMPT_TOKENS,
        COMPLETION_TOKENS,
    )


def test_stream_without_include_usage_has_no_usage_chunk(sdk):
    chunks = list(sdk.chat.completions.create(model="ok-model", messages=HELLO, stream=True))

    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


def test_tool_calls_come_back_in_openai_format(sdk):
    answer = sdk.chat.completions.create(
        model="tool-model", messages=HELLO, tools=[WEATHER_TOOL], tool_choice="auto"
    )

    call = answer.choices[0].message.tool_calls[0]
    assert answer.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == json.loads(TOOL_ARGS)
    assert call.id


def test_streamed_tool_calls_assemble_into_the_arguments(sdk):
    chunks = list(
        sdk.chat.completions.create(
            model="tool-model", messages=HELLO, tools=[WEATHER_TOOL], stream=True
        )
    )

    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert calls[0].function.name == "get_weather"
    assert json.loads("".join(tc.function.arguments or "" for tc in calls)) == {"city": "Paris"}


def test_tool_results_reach_the_provider_in_its_own_format(sdk, fake, kind):
    conversation = [
        *HELLO,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": TOOL_ARGS},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C"},
    ]
    sdk.chat.completions.create(model="ok-model", messages=conversation, tools=[WEATHER_TOOL])

    _path, _headers, sent = fake.requests[-1]
    assert "Sunny, 21 C" in json.dumps(sent)
    if kind == "anthropic":
        assert sent["system"] == "Be brief."
        assert sent["messages"][-1]["content"][0]["type"] == "tool_result"
        assert sent["messages"][1]["content"][0]["input"] == {"city": "Paris"}
    elif kind == "gemini":
        assert sent["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
        assert sent["contents"][-1]["parts"][0]["functionResponse"]["name"] == "get_weather"
    elif kind == "mistral":
        ids = {sent["messages"][2]["tool_calls"][0]["id"], sent["messages"][3]["tool_call_id"]}
        assert len(ids) == 1 and len(ids.pop()) == 9
    elif kind == "ollama":
        assert sent["messages"][2]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}


ERRORS = [
    (401, openai.AuthenticationError),
    (403, openai.PermissionDeniedError),
    (404, openai.NotFoundError),
    (408, openai.APIStatusError),
    (422, openai.UnprocessableEntityError),
    (429, openai.RateLimitError),
    (500, openai.InternalServerError),
    (503, openai.InternalServerError),
]


def test_provider_errors_keep_their_status_in_openais_envelope(provider, live_server, alice):
    for status, exception in ERRORS:
        api = publish_ai_api(provider, model=f"error-{status}", slug=f"fails-{status}")
        sdk = client_for(api, live_server, alice)

        with pytest.raises(exception) as raised:
            sdk.chat.completions.create(model="x", messages=HELLO)

        assert raised.value.status_code == status
        assert f"Fake refusal {status}" in raised.value.body["message"]
        live_server.settle()


def test_fallback_after_429_answers_from_the_next_model_and_says_which(
    provider, live_server, alice, fake
):
    api = publish_ai_api(provider, model="error-429", fallbacks=[f"{provider.name}/ok-model"])
    sdk = client_for(api, live_server, alice)

    raw = sdk.chat.completions.with_raw_response.create(model="x", messages=HELLO)

    assert raw.parse().model == f"{provider.name}/ok-model"
    assert raw.headers["X-Model"] == f"{provider.name}/ok-model"
    assert len(fake.requests) == 2


def test_bad_request_is_not_retried_on_fallbacks(provider, live_server, alice, fake):
    api = publish_ai_api(provider, model="error-400", fallbacks=[f"{provider.name}/ok-model"])
    sdk = client_for(api, live_server, alice)

    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(model="x", messages=HELLO)

    assert len(fake.requests) == 1


def test_token_quota_refuses_with_429_the_call_that_might_not_fit(
    provider, fake, live_server, alice
):
    used = PROMPT_TOKENS + COMPLETION_TOKENS
    api = publish_ai_api(provider, token_quota=2 * used + 10)
    sdk = client_for(api, live_server, alice)
    sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=10)
    sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=10)

    with pytest.raises(openai.RateLimitError) as raised:
        sdk.chat.completions.create(model="x", messages=HELLO, max_tokens=10)

    assert "AI tokens" in raised.value.message
    assert int(raised.value.response.headers["Retry-After"]) > 0
    assert len(fake.requests) == 2


def test_models_lists_the_apis_models(provider, live_server, alice):
    api = publish_ai_api(provider, fallbacks=[f"{provider.name}/tool-model"])
    sdk = client_for(api, live_server, alice)

    assert [m.id for m in sdk.models.list()] == [
        f"{provider.name}/ok-model",
        f"{provider.name}/tool-model",
    ]
    assert sdk.models.retrieve(f"{provider.name}/tool-model").owned_by == provider.name


OWN_COST = Decimal(PROMPT_TOKENS * 2 + COMPLETION_TOKENS * 8) / 1_000_000


@pytest.mark.parametrize("stream", [False, True])
def test_tokens_and_cost_reach_the_usage_events(sdk, provider, stream):
    answer = sdk.chat.completions.create(model="ok-model", messages=HELLO, stream=stream)
    if stream:
        list(answer)

    event = accounted_event()
    assert (event.prompt_tokens, event.completion_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert event.cost == OWN_COST
    assert event.model == f"{provider.name}/ok-model"
