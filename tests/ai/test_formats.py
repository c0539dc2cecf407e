"""The surfaces' formats: how each request becomes the core's, and usage parts become cost."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apis.ai import anthropic as anthropic_adapter
from apis.ai import openai as openai_adapter
from apis.ai import tokens
from apis.ai.chat import Usage
from apis.ai.formats.messages import Messages
from apis.ai.formats.responses import Responses
from apis.ai.models import Provider
from apis.ai.prices import call_cost
from apis.gateway.errors import GatewayError

PNG = "iVBORw0KGgo="


def test_responses_input_items_become_chat_messages():
    request = Responses().request(
        {
            "model": "m",
            "instructions": "Be brief.",
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "What is this?"},
                        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
                    ],
                },
                {"type": "function_call", "call_id": "c1", "name": "look", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "look", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "a cat"},
            ],
            "text": {"format": {"type": "json_schema", "name": "a", "schema": {"type": "object"}}},
            "max_output_tokens": 50,
            "tool_choice": {"type": "function", "name": "look"},
        }
    )

    system, user, calls, result = request["messages"]
    assert system == {"role": "system", "content": "Be brief."}
    assert user["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert [c["id"] for c in calls["tool_calls"]] == ["c1", "c2"]
    assert result == {"role": "tool", "tool_call_id": "c1", "content": "a cat"}
    assert request["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert request["max_completion_tokens"] == 50
    assert request["tool_choice"] == {"type": "function", "function": {"name": "look"}}


@pytest.mark.parametrize("tool", [{"type": "web_search"}, {"type": "file_search"}])
def test_responses_built_in_tools_are_refused_by_name(tool):
    with pytest.raises(GatewayError, match=tool["type"]) as raised:
        Responses().request({"input": "hi", "tools": [tool]})

    assert raised.value.status == 400


def test_messages_blocks_become_chat_messages():
    request = Messages().request(
        {
            "model": "m",
            "max_tokens": 10,
            "system": [{"type": "text", "text": "Be brief."}],
            "stop_sequences": ["END"],
            "tool_choice": {"type": "any"},
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                        },
                        {"type": "text", "text": "What is this?"},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "look", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "a cat"}],
                },
            ],
        }
    )

    system, user, assistant, result = request["messages"]
    assert system == {"role": "system", "content": "Be brief."}
    assert user["content"][0]["image_url"]["url"] == f"data:image/png;base64,{PNG}"
    assert assistant["tool_calls"][0]["function"] == {"name": "look", "arguments": "{}"}
    assert result == {"role": "tool", "tool_call_id": "t1", "content": "a cat"}
    assert (request["stop"], request["tool_choice"]) == (["END"], "required")


def test_messages_usage_leaves_cached_input_out_of_input_tokens():
    usage = Usage(100, 5, cache_read_tokens=60, cache_write_tokens=30)
    answer = {"choices": [{"message": {"content": "hi"}, "finish_reason": "length"}]}

    message = Messages().answer(answer, usage)

    assert message["usage"] == {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 60,
    }
    assert message["stop_reason"] == "max_tokens"


def test_cached_and_reasoning_tokens_are_read_from_each_provider():
    _, openai_usage = openai_adapter.parse(
        {
            "usage": {
                "prompt_tokens": 100,
                "completion_tokens": 50,
                "prompt_tokens_details": {"cached_tokens": 80},
                "completion_tokens_details": {"reasoning_tokens": 30},
            }
        },
        model="p/m",
    )
    claude_usage = anthropic_adapter.usage_of(
        {
            "input_tokens": 10,
            "cache_read_input_tokens": 60,
            "cache_creation_input_tokens": 30,
            "output_tokens": 5,
        }
    )

    assert (openai_usage.cache_read_tokens, openai_usage.reasoning_tokens) == (80, 30)
    assert (claude_usage.prompt_tokens, claude_usage.cache_read_tokens) == (100, 60)
    assert claude_usage.cache_write_tokens == 30


def test_cache_reads_and_writes_are_priced_at_their_own_rates():
    openai = Provider(name="o", kind="openai", base_url="https://api.openai.com/v1")
    claude = Provider(name="a", kind="anthropic", base_url="https://api.anthropic.com")
    million = 1_000_000

    def cost(provider, model, **parts):
        return call_cost(
            provider=provider, model=model, prices=None, usage=Usage(million, 0, **parts)
        )

    # gpt-4o: $2.50 per million input tokens, $1.25 cached; Claude Sonnet 4: $3, reads $0.30,
    # writes $3.75.
    assert cost(openai, "gpt-4o") == Decimal("2.5")
    assert cost(openai, "gpt-4o", cache_read_tokens=million) == Decimal("1.25")
    assert cost(claude, "claude-sonnet-4-0", cache_read_tokens=million) == Decimal("0.3")
    assert cost(claude, "claude-sonnet-4-0", cache_write_tokens=million) == Decimal("3.75")


def test_a_count_the_provider_never_gave_is_estimated_never_zero():
    request = {"messages": [{"role": "user", "content": "Hello there"}]}

    broken = tokens.settled(Usage(), request=request, output="Hello from the fake", complete=False)
    running = tokens.settled(Usage(7, 2), request=request, output="a b c d e", complete=False)
    reported = tokens.settled(Usage(7, 2), request=request, output="a b c d e", complete=True)

    assert (broken.prompt_tokens, broken.completion_tokens, broken.estimated) == (5, 4, True)
    assert (running.prompt_tokens, running.completion_tokens, running.estimated) == (7, 2, True)
    assert reported == Usage(7, 2)
