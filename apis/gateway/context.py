"""One gateway call: the request as sent, what the checks establish, and what it comes to."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from apis.gateway.counters import Hold, MinuteHold
from apis.models import Api, Plan, Subscription
from keys.tokens import AccessClaims


@dataclass(frozen=True)
class GatewayRequest:
    """What the client sent, as the steps read it; built by the /gw view or by MCP."""

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
    peer_address: str = ""
    forwarded_chain: tuple[str, ...] = ()
    client_address: str = ""
    scheme: str = "http"
    host: str = ""
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    channel: Literal["http", "mcp"] = "http"
    # Whose upstream MCP session a call of an `mcp` API continues (apis.mcp.relay).
    mcp_owner: str = ""
    # Claims MCP verified already, on its own endpoint; the API's demands on them still hold.
    verified_claims: AccessClaims | None = None

    def header(self, name: str, default: str = "") -> str:
        """A request header, whatever the case of its name."""
        return self._by_lower_name.get(name.lower(), default)

    @functools.cached_property
    def _by_lower_name(self) -> dict[str, str]:
        # The steps ask for half a dozen headers a call: the names are lowered once, not per
        # question. The first of two names differing only in case wins, as a scan would find.
        index: dict[str, str] = {}
        for name, value in self.headers.items():
            index.setdefault(name.lower(), value)
        return index


@dataclass(frozen=True)
class Policy:
    """One quota policy and where the caller stands (IETF httpapi rate-limit headers, -10)."""

    name: str
    quota: int
    window: int
    remaining: int
    reset: int


@dataclass(frozen=True)
class CachePeek:
    """What `limit` read of the answer cache in its round trip, handed to `serve_cached`: the
    key it looked under ("" when it did not look) and what it found there."""

    key: str = ""
    entry: object = None


@dataclass
class Outcome:
    """What the call comes to: the answer going back, and what it used on the way."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    # Set-Cookie may not be folded into one line (RFC 9110 §5.3): each is kept as sent.
    set_cookies: list[str] = field(default_factory=list)
    body: bytes | AsyncIterator[bytes] = b""
    cache_status: str = ""
    # The RateLimit-Policy / RateLimit headers' policies: limit's, and a budget's (apis.ai).
    policies: list[Policy] = field(default_factory=list)
    bytes_read: int = 0
    bytes_out: int = 0
    latency_ms: int = 0
    holds_upstream_place: bool = False
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
    # What the call reserved of its budgets and token quota, and of deployments' minutes
    # (apis.ai.spend, apis.ai.routing), settled when it is over.
    holds: list[Hold] = field(default_factory=list)
    minute_holds: list[MinuteHold] = field(default_factory=list)
    # The rate limit and quotas are still to be counted: with the call's reservation, in the
    # same round trip (limit.admit).
    limits_pending: bool = False


@dataclass(frozen=True)
class AdmittedCall:
    """A call the checks let through: the API, who calls and on which subscription.

    What forward, the cache and the kinds' forwarders work on; they write its outcome.
    """

    request: GatewayRequest
    api: Api
    claims: AccessClaims
    subscription: Subscription
    outcome: Outcome

    @property
    def plan(self) -> Plan:
        """The plan of the call's subscription."""
        return self.subscription.plan


@dataclass
class GatewayCall:
    """One call from start to end: its request, its outcome, and what the checks established.

    The checks' results are kept here as they come, for a refusal's answer and the usage event;
    no step reads them from here: each is handed what it needs (pipeline.admit).
    """

    request: GatewayRequest
    started: float
    outcome: Outcome = field(default_factory=Outcome)
    api: Api | None = None
    claims: AccessClaims | None = None
    subscription: Subscription | None = None

    @property
    def bytes_in(self) -> int:
        """Bytes of the request body received: what arrived, never what a header claimed."""
        if isinstance(self.request.body, bytes):
            return len(self.request.body)
        return self.outcome.bytes_read


async def as_chunks(body: bytes | AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
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
        self, chunks: AsyncGenerator[bytes, None], release: Callable[[], Awaitable[None]]
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
