"""AI and prompt APIs as tools: a chat tool, and a prompt tool whose schema is its variables."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync

from apis.ai.services import prompt_save
from apis.mcp.tools import tools_for
from apis.models import Api
from apis.services import api_transition
from apis.usage.models import UsageEvent
from apis.usage.services import usage_ingest
from tests.ai.conftest import publish_ai_api
from tests.ai.fakes import COMPLETION_TOKENS, PROMPT_TOKENS, WORDS
from tests.factories import ApiFactory, ApplicationFactory, PlanFactory, SubscriptionFactory
from tests.mcp.agents import with_client
from tests.tokens import token_for

VARIABLES = {
    "type": "object",
    "properties": {"text": {"type": "string", "minLength": 1}},
    "required": ["text"],
}


@pytest.fixture
def summarise(provider):
    api = ApiFactory(slug="summarise", kind=Api.Kind.PROMPT, upstream_url="")
    prompt_save(
        api=api,
        actor=None,
        model=f"{provider.name}/ok-model",
        template="Summarise: {{text}}",
        variables=VARIABLES,
    )
    PlanFactory(api=api, name="basic", rate_limit="1000/m")
    api_transition(api=api, to="published", actor=None)
    return api


def agent_token(owner, *apis) -> str:
    application = ApplicationFactory(owner=owner)
    for api in apis:
        SubscriptionFactory(application=application, api=api, plan=api.plans.get())
    return token_for(application)


def test_chat_tool_answers_with_the_models_words_and_counts_tokens(mcp_url, alice, provider):
    assistant = publish_ai_api(provider, slug="assistant")
    token = agent_token(alice, assistant)

    async def work(client):
        messages = [{"role": "user", "content": "Say hello"}]
        return await client.call_tool("assistant.chat", {"messages": messages})

    result = with_client(mcp_url, token, "auto", work)
    usage_ingest()

    assert result.is_error is False
    assert result.content[0].text == "".join(WORDS)
    event = UsageEvent.objects.get(api=assistant)
    assert (event.channel, event.prompt_tokens, event.completion_tokens) == (
        "mcp",
        PROMPT_TOKENS,
        COMPLETION_TOKENS,
    )


def test_prompt_tool_takes_the_prompts_variables(mcp_url, alice, summarise):
    token = agent_token(alice, summarise)

    async def work(client):
        listing = await client.list_tools()
        refused = await client.call_tool("summarise", {"text": ""})
        answered = await client.call_tool("summarise", {"text": "A long story."})
        return listing, refused, answered

    listing, refused, answered = with_client(mcp_url, token, "legacy", work)

    [tool] = listing.tools
    assert tool.input_schema == VARIABLES
    assert refused.is_error is True
    assert answered.is_error is False
    assert json.loads(answered.content[0].text)["output"] == "".join(WORDS)


def test_a_changed_prompt_schema_is_listed_from_the_next_call(summarise, alice):
    application = ApplicationFactory(owner=alice)
    SubscriptionFactory(application=application, api=summarise, plan=summarise.plans.get())
    before = {tool.name: tool.input_schema for tool in async_to_sync(tools_for)(application.pk)}

    wider = {**VARIABLES, "properties": {**VARIABLES["properties"], "words": {"type": "integer"}}}
    prompt_save(api=summarise, actor=None, variables=wider)

    after = {tool.name: tool.input_schema for tool in async_to_sync(tools_for)(application.pk)}
    assert "words" not in before["summarise"]["properties"]
    assert "words" in after["summarise"]["properties"]
