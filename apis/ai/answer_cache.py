"""The AI answer cache: an identical request gets the answer stored for it, at no cost.

Opt-in per API: an `ai` API's `cache_ttl` (0, the default, keeps nothing) is how long an answer
is kept, and its answers stay the application's own unless the API is `public_cache`. The key
is the surface and the normalised JSON of the request as the client sent it: model, messages or
input, tools and every parameter, `stream` included, so that a streamed request is answered by
replaying the stored events as a stream. A cached answer calls no provider, reserves and costs
nothing, and its usage event is marked cached. A client's `Cache-Control: no-cache` asks for a
fresh answer (which is then stored), `no-store` leaves none.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from apis.gateway.context import AdmittedCall
from apis.gateway.errors import SHARED_CACHE_ERRORS
from core import shared

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedAnswer:
    """An answer as the cache keeps it: who gave it, its type and its bytes as sent."""

    model: str
    content_type: str
    pieces: tuple[bytes, ...]


def key_for(call: AdmittedCall, surface: str, body: Any) -> str:
    """The request's key in the answer cache, or "" when nothing is to be read or kept."""
    if call.api.cache_ttl <= 0 or "no-store" in _directives(call):
        return ""
    canonical = json.dumps(
        {"surface": surface, "request": body}, sort_keys=True, separators=(",", ":")
    )
    audience = "public" if call.api.public_cache else f"app:{call.claims.application_id}"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"gw:ai-answer:{call.api.pk}:{audience}:{digest}"


async def serve(call: AdmittedCall, key: str) -> bool:
    """Answer the call from the cache when it holds an answer under `key`."""
    if not key or "no-cache" in _directives(call):
        return False
    try:
        entry = await shared.get(key)
    except SHARED_CACHE_ERRORS:
        return False
    if not isinstance(entry, CachedAnswer):
        return False
    outcome = call.outcome
    outcome.status, outcome.model_used, outcome.cache_status = 200, entry.model, "HIT"
    outcome.answer_cached = True
    outcome.headers = {"Content-Type": entry.content_type, "X-Model": entry.model}
    if entry.content_type.startswith("text/event-stream"):
        outcome.headers["Cache-Control"] = "no-cache"
        outcome.body = _replay(entry.pieces)
    else:
        outcome.body = b"".join(entry.pieces)
    return True


async def keep(call: AdmittedCall, key: str, pieces: list[bytes]) -> None:
    """Store the call's answer (its headers already set) under `key`, for the API's TTL."""
    if not key:
        return
    outcome = call.outcome
    entry = CachedAnswer(outcome.model_used, outcome.headers["Content-Type"], tuple(pieces))
    try:
        await shared.set(key, entry, call.api.cache_ttl)
    except SHARED_CACHE_ERRORS:
        request_id = call.request.request_id
        logger.warning("answer of request %s not cached: shared cache down", request_id)


def miss(call: AdmittedCall, key: str) -> None:
    """Say on the answer that the cache was asked and did not have it."""
    if key:
        call.outcome.headers["X-Cache"] = "MISS"


async def _replay(pieces: tuple[bytes, ...]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def _directives(call: AdmittedCall) -> set[str]:
    return {part.strip().lower() for part in call.request.header("Cache-Control").split(",")}
