"""Prompt APIs as MCP prompts: their variables as arguments, completions from a variable's enum."""

from __future__ import annotations

import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from apis.ai.services import prompt_save
from apis.models import Api
from apis.services import api_transition
from tests.factories import ApiFactory, PlanFactory
from tests.mcp.agents import with_client
from tests.mcp.test_ai_tools import agent_token

VARIABLES = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "minLength": 1, "description": "What to summarise"},
        "tone": {"type": "string", "enum": ["formal", "friendly", "funny"]},
        "words": {"type": "integer", "minimum": 1, "maximum": 200},
    },
    "required": ["text", "tone"],
}


@pytest.fixture
def summarise(provider):
    api = ApiFactory(slug="summarise", kind=Api.Kind.PROMPT, upstream_url="")
    prompt_save(
        api=api,
        actor=None,
        model=f"{provider.name}/ok-model",
        system="You summarise for busy people.",
        template="In a {{tone}} tone, at most {{words}} words: {{text}}",
        variables=VARIABLES,
    )
    PlanFactory(api=api, name="basic", rate_limit="1000/m")
    api_transition(api=api, to="published", actor=None)
    return api


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_a_prompt_api_is_an_mcp_prompt_with_its_variables_as_arguments(
    mcp_url, alice, summarise, mode
):
    async def work(client):
        listing = await client.list_prompts()
        prompt = await client.get_prompt(
            "summarise", {"text": "A long story.", "tone": "formal", "words": "12"}
        )
        return listing, prompt

    listing, prompt = with_client(mcp_url, agent_token(alice, summarise), mode, work)

    [listed] = listing.prompts
    arguments = {argument.name: argument.required for argument in listed.arguments}
    assert (listed.name, arguments) == ("summarise", {"text": True, "tone": True, "words": False})
    texts = [message.content.text for message in prompt.messages]
    assert texts == [
        "You summarise for busy people.",
        "In a formal tone, at most 12 words: A long story.",
    ]


def test_arguments_outside_the_schema_are_refused(mcp_url, alice, summarise):
    async def work(client):
        with pytest.raises(MCPError) as refused:
            await client.get_prompt("summarise", {"text": "x", "tone": "angry"})
        return refused.value

    refused = with_client(mcp_url, agent_token(alice, summarise), "legacy", work)

    assert "tone" in str(refused)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_completion_offers_the_enum_values_that_begin_with_what_was_typed(
    mcp_url, alice, summarise, mode
):
    ref = types.PromptReference(type="ref/prompt", name="summarise")

    async def work(client):
        every = await client.complete(ref, {"name": "tone", "value": "f"})
        one = await client.complete(ref, {"name": "tone", "value": "fr"})
        free = await client.complete(ref, {"name": "text", "value": "A"})
        return every, one, free

    every, one, free = with_client(mcp_url, agent_token(alice, summarise), mode, work)

    assert every.completion.values == ["formal", "friendly", "funny"]
    assert one.completion.values == ["friendly"]
    assert free.completion.values == []


def test_a_prompt_of_an_api_not_subscribed_is_unknown(mcp_url, alice, bob, summarise):
    other = ApiFactory(slug="other", published=True)

    async def work(client):
        listing = await client.list_prompts()
        with pytest.raises(MCPError) as refused:
            await client.get_prompt("summarise", {"text": "x", "tone": "formal"})
        return listing, refused.value

    listing, refused = with_client(mcp_url, agent_token(bob, other), "legacy", work)

    assert listing.prompts == []
    assert "Unknown prompt: summarise" in str(refused)
