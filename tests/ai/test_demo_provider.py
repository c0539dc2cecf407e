"""The demo echo model: an OpenAI-compatible provider the project serves itself."""

from __future__ import annotations

import io

import openai
import pytest
from django.core.management import call_command

from apis.ai.models import PromptEndpoint, Provider
from apis.models import Api

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def echo(live_server) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{live_server.url}/demo-upstream/v1", api_key="none", max_retries=0
    )


def test_echo_model_answers_the_last_user_message(echo):
    answer = echo.chat.completions.create(
        model="echo-1", messages=[{"role": "user", "content": "ping pong"}]
    )

    assert answer.choices[0].message.content == "Echo: ping pong"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (2, 3)


# Django warns when it must run a synchronous iterator in a thread to serve it under ASGI.
@pytest.mark.filterwarnings("error:StreamingHttpResponse must consume synchronous iterators")
def test_echo_model_streams_word_by_word(echo):
    chunks = list(
        echo.chat.completions.create(
            model="echo-1",
            messages=[{"role": "user", "content": "one two three"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    words = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert words == ["Echo:", " one", " two", " three"]
    assert chunks[-1].usage.completion_tokens == 4


def test_echo_model_embeds_the_same_text_the_same_way(echo):
    first = echo.embeddings.create(model="echo-1", input=["alpha", "beta"], dimensions=8)
    again = echo.embeddings.create(model="echo-1", input="alpha", dimensions=8)

    alpha, beta = (row.embedding for row in first.data)
    assert len(alpha) == 8
    assert alpha == again.data[0].embedding
    assert alpha != beta


def test_echo_model_lists_itself(echo):
    assert [m.id for m in echo.models.list()] == ["echo-1"]


def test_demo_registers_the_ai_provider_an_ai_api_and_two_prompt_apis():
    call_command("demo", stdout=io.StringIO())
    call_command("demo", stdout=io.StringIO())

    assert Provider.objects.get(name="demo").kind == "openai_compatible"
    assert Api.objects.get(slug="echo-ai").model == "demo/echo-1"
    assert sorted(p.api.slug for p in PromptEndpoint.objects.all()) == ["sentiment", "translate"]
    assert PromptEndpoint.objects.get(api__slug="sentiment").version == 1
