"""Reading the gateway's streamed answers in tests."""

from __future__ import annotations

import json


def body_of(response) -> bytes:
    """The whole body of a test-client response (the call is accounted once it was sent)."""
    return response.content


def json_of(response) -> dict:
    """The body as JSON."""
    return json.loads(body_of(response))
