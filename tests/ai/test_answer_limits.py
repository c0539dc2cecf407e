"""What the gateway holds of a provider's answer that is not streamed: no more than its limits."""

from __future__ import annotations

import openai
import pytest
from django.test import override_settings

from tests.ai.fakes import EndlessLineProvider
from tests.ai.test_streams import HELLO, streaming_api, subscribed_token
from tests.polling import eventually

pytestmark = pytest.mark.django_db(transaction=True)

ANSWER_LIMIT = 64 * 1024
# Unbounded, the gateway would read the provider's 16 MiB line to its end, holding it all.
MOST = 16 * 1024 * 1024


def _client(live_server, provider: EndlessLineProvider, owner) -> openai.OpenAI:
    api = streaming_api(provider)
    return openai.OpenAI(
        base_url=f"{live_server.url}/gw/{api.slug}",
        api_key=subscribed_token(api, owner),
        max_retries=0,
    )


@override_settings(PORTCULLIS={"GATEWAY": {"ANSWER_LIMIT": ANSWER_LIMIT}})
def test_an_answer_that_never_ends_is_refused_at_the_answer_limit(live_server, alice):
    with EndlessLineProvider(most=MOST) as provider:
        client = _client(live_server, provider, alice)
        with pytest.raises(openai.APIStatusError) as refused:
            client.chat.completions.create(model="m", messages=HELLO)
        # The client has its answer as the gateway hangs up; the provider's thread sees it next.
        eventually(lambda: provider.cut_short, True)

    assert refused.value.status_code == 502
    assert f"answered more than {ANSWER_LIMIT} bytes" in refused.value.message
    assert refused.value.code == "upstream_answer_too_large"
    assert provider.cut_short, "the gateway read the provider's answer to its end"
    assert provider.sent < provider.most


def test_a_refusal_that_never_ends_is_read_no_further_than_its_message_needs(live_server, alice):
    with EndlessLineProvider(most=MOST, status=400) as provider:
        client = _client(live_server, provider, alice)
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="m", messages=HELLO)
        eventually(lambda: provider.cut_short, True)

    assert "the provider refused the request" in refused.value.message
    assert provider.cut_short, "the gateway read the provider's refusal to its end"
    assert provider.sent < provider.most
