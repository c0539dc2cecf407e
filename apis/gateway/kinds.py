"""What each kind of API plugs into the gateway: its forwarder, and what settles a call.

The kinds live above the gateway (apis.ai, apis.mcp): they register here from the catalog's
AppConfig.ready(), so the gateway imports none of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from apis.gateway.context import AdmittedCall

Forwarder = Callable[[AdmittedCall], Awaitable[None]]
Settler = Callable[[AdmittedCall], Awaitable[None]]

_forwarders: dict[str, Forwarder] = {}
_settlers: list[Settler] = []


def forwarder_register(kind: str, forwarder: Forwarder) -> None:
    """Name the function that forwards an admitted call of an API of `kind`."""
    _forwarders[kind] = forwarder


def forwarder_of(kind: str) -> Forwarder:
    """The forwarder of the kind; LookupError when none registered it."""
    try:
        return _forwarders[kind]
    except KeyError:
        raise LookupError(f"No forwarder is registered for APIs of kind '{kind}'.") from None


def settler_register(settler: Settler) -> None:
    """Add a function that settles what an admitted call reserved, once the call is over."""
    if settler not in _settlers:
        _settlers.append(settler)


async def settle(call: AdmittedCall) -> None:
    """Run every settler on the finished call, in the order they were registered."""
    for settler in _settlers:
        await settler(call)
