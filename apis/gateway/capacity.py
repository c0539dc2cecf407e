"""This process's upstream calls in flight, and the cap beyond which it refuses at once.

A call holds its place from the moment it goes upstream until its answer has been sent or
dropped, streams included; over the cap the answer is 503 with Retry-After, never a queue.
"""

from __future__ import annotations

from apis.conf import gateway_settings
from apis.gateway.context import Outcome
from apis.gateway.errors import GatewayError


class _InFlight:
    """A counter: the event loop runs one call's step at a time, so no lock is needed."""

    count = 0


def claim(outcome: Outcome) -> None:
    """Take a place for the call's upstream exchange, or refuse with 503 at the cap."""
    if _InFlight.count >= gateway_settings.MAX_IN_FLIGHT:
        raise GatewayError(
            503,
            "Gateway at capacity",
            f"This gateway process has {_InFlight.count} upstream calls open, its limit.",
            headers={"Retry-After": "1"},
        )
    _InFlight.count += 1
    outcome.holds_upstream_place = True


def release(outcome: Outcome) -> None:
    """Give the call's place back (once, however often it is called)."""
    if outcome.holds_upstream_place:
        outcome.holds_upstream_place = False
        _InFlight.count -= 1
