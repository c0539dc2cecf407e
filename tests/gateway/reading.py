"""Reading the gateway's streamed answers in tests."""

from __future__ import annotations

import json


def body_of(response) -> bytes:
    """The whole body of a (streaming) test-client response; consuming it closes the response
    (the test client closes it at the end), which accounts the call."""
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def json_of(response) -> dict:
    """The body as JSON."""
    return json.loads(body_of(response))
