"""The state of one gateway call, handed from step to step."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from apis.models import Api, Plan, Subscription
from keys.tokens import AccessClaims


@dataclass
class GatewayContext:
    """One call: what the client sent, what the steps resolved, what goes back.

    Built by the /gw view from an HttpRequest, or by MCP without one.
    """

    method: str
    slug: str
    path: str = ""
    # The path as the client sent it, escapes and all (ASGI's raw_path), for REST upstreams.
    raw_path: str = ""
    query_string: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    # The request body as it arrives from the client, or all of it (MCP builds one).
    body: AsyncIterator[bytes] | bytes | None = None
    content_length: int | None = None
    # A body sent with Transfer-Encoding: chunked has no length until it has been read.
    chunked: bool = False
    bytes_read: int = 0
    peer_address: str = ""
    forwarded_chain: list[str] = field(default_factory=list)
    client_address: str = ""
    scheme: str = "http"
    host: str = ""
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    channel: Literal["http", "mcp"] = "http"
    # Whose upstream MCP session a call of an `mcp` API continues (apis.mcp.relay).
    mcp_owner: str = ""
    started: float = 0.0
    holds_upstream_place: bool = False

    api: Api | None = None
    claims: AccessClaims | None = None
    subscription: Subscription | None = None
    plan: Plan | None = None

    status: int = 0
    latency_ms: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    # Set-Cookie may not be folded into one line (RFC 9110 §5.3): each is kept as sent.
    set_cookies: list[str] = field(default_factory=list)
    response_body: bytes | AsyncIterator[bytes] = b""
    bytes_out: int = 0
    cache_status: str = ""
    cache_entry: Any = None
    cache_peeked: bool = False
    rate_limit: list[Any] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Parts of the two counts above, priced apart; estimated: counted offline, not reported.
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    tokens_estimated: bool = False
    cost: Decimal = Decimal(0)
    model_used: str = ""
    # The answer came from the AI answer cache: no provider was called, nothing is charged.
    answer_cached: bool = False
    # What the call reserved of its budgets and token quota (apis.ai.spend), settled at the end.
    holds: list[Any] = field(default_factory=list)
    # The tokens it took from a deployment's minute (apis.ai.routing), settled the same way.
    minute_holds: list[Any] = field(default_factory=list)

    def header(self, name: str, default: str = "") -> str:
        """A request header, whatever the case of its name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), default)

    @property
    def bytes_in(self) -> int:
        """Bytes of the request body received: what arrived, never what a header claimed."""
        if isinstance(self.body, bytes):
            return len(self.body)
        return self.bytes_read


async def as_chunks(body: bytes | AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A body, whole or streamed, as chunks; a streamed one is closed when this is."""
    if isinstance(body, bytes):
        if body:
            yield body
        return
    try:
        async for chunk in body:
            yield chunk
    finally:
        close = getattr(body, "aclose", None)
        if close is not None:
            await close()


class ReleasingStream:
    """A streamed body that holds an upstream connection; closing it, begun or not, releases it.

    An async generator closed before its first step never runs its `finally`, so the release
    cannot live there alone: a client that leaves before the first chunk would keep the
    upstream generating.
    """

    def __init__(
        self, chunks: AsyncIterator[bytes], release: Callable[[], Awaitable[None]]
    ) -> None:
        self.chunks = chunks
        self.release = release

    def __aiter__(self) -> ReleasingStream:
        return self

    async def __anext__(self) -> bytes:
        return await anext(self.chunks)

    async def aclose(self) -> None:
        """Stop the chunks, then release the connection."""
        try:
            await self.chunks.aclose()
        finally:
            await self.release()
