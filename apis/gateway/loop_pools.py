"""What the data plane keeps per event loop, closed together when that loop's work is over."""

from __future__ import annotations

from apis.gateway.http_client import close_upstream_client
from core import shared


async def close_loop_pools() -> None:
    """Close the running loop's upstream client and Redis clients, and their connections.

    A pool belongs to the loop that opened it and cannot serve another: one left open when
    its loop ends keeps its sockets until the process exits.
    """
    await close_upstream_client()
    await shared.close_clients()
