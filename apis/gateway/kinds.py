"""What each kind of API plugs into the gateway: its forwarder, what settles a call, and
whether a call's limits are counted with its reservation.

The kinds live above the gateway (apis.ai, apis.mcp): they register here from the catalog's
AppConfig.ready(), so the gateway imports none of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from apis.gateway.context import AdmittedCall
from apis.usage.recorder import Alongside


@dataclass(frozen=True)
class Settlement:
    """What settles a finished call: scripts sent with its usage event (in its round trip),
    then what is done with their replies (an exception in place of a script that failed)."""

    scripts: Sequence[Alongside]
    then: Callable[[list[Any]], Awaitable[None]]


Forwarder = Callable[[AdmittedCall], Awaitable[None]]
# None: the call was settled at once (the embedded cache), or had nothing to settle.
Settler = Callable[[AdmittedCall], Awaitable[Settlement | None]]
Reserves = Callable[[AdmittedCall], bool]

_forwarders: dict[str, Forwarder] = {}
_settlers: list[Settler] = []
_reservers: dict[str, Reserves] = {}


def forwarder_register(kind: str, forwarder: Forwarder) -> None:
    """Name the function that forwards an admitted call of an API of `kind`."""
    _forwarders[kind] = forwarder


def forwarder_of(kind: str) -> Forwarder:
    """The forwarder of the kind; LookupError when none registered it."""
    try:
        return _forwarders[kind]
    except KeyError:
        raise LookupError(f"No forwarder is registered for APIs of kind '{kind}'.") from None


def reserver_register(kind: str, reserves: Reserves) -> None:
    """Name the test of whether a call of an API of `kind` reserves before it is forwarded: its
    forwarder then counts its limits with the reservation, in one round trip (limit.admit)."""
    _reservers[kind] = reserves


def reserves(call: AdmittedCall) -> bool:
    """Whether the call's forwarder counts its limits with its reservation."""
    reserver = _reservers.get(call.api.kind)
    return reserver is not None and reserver(call)


def settler_register(settler: Settler) -> None:
    """Add a function that settles what an admitted call reserved, once the call is over."""
    if settler not in _settlers:
        _settlers.append(settler)


async def settlements(call: AdmittedCall) -> list[Settlement]:
    """Run every settler on the finished call, in the order they were registered: what is
    left to send with its usage event."""
    found = [await settler(call) for settler in _settlers]
    return [settlement for settlement in found if settlement is not None]
