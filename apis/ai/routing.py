"""Several deployments serving one model: which to call first, and which to leave alone.

The order is the API's routing: by weight (a weighted draw per call), by the fewest calls this
process has in flight to each, or by the lowest latency it saw lately. A deployment that
answered 429, 5xx or timed out is cooled down for the API's `cooldown` seconds in the shared
cache, so that no process calls it until then; one at its declared requests per minute is
skipped the same way. Skipped deployments give their turn to the next, then to the fallbacks.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict

from django.core.cache import cache

from apis.ai.targets import Target
from apis.gateway import counters
from apis.models import Api
from core import shared
from core.clock import clock

# KEYS: the deployment's cooldown mark and this minute's request counter.
# ARGV: its requests per minute (0: none). 1: call it; 0: cooling down; -1: at its limit.
ADMIT_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if tonumber(ARGV[1]) > 0 then
  local calls = redis.call('INCR', KEYS[2])
  if calls == 1 then redis.call('EXPIRE', KEYS[2], 61) end
  if calls > tonumber(ARGV[1]) then return -1 end
end
return 1
"""
# How much of each new latency the running figure takes.
LATENCY_WEIGHT = 0.3

_in_flight: defaultdict[tuple[int, str], int] = defaultdict(int)
_latency: dict[tuple[int, str], float] = {}
_draw = random.SystemRandom()


def order(routing: str, deployments: list[Target]) -> list[Target]:
    """The deployments in the order to try them."""
    if routing == Api.Routing.LEAST_BUSY:
        return sorted(deployments, key=lambda t: _in_flight[_name(t)])
    if routing == Api.Routing.LATENCY:
        return sorted(deployments, key=lambda t: _latency.get(_name(t), 0.0))
    left, drawn = list(deployments), []
    while left:
        chosen = _draw.choices(left, weights=[t.weight for t in left])[0]
        left.remove(chosen)
        drawn.append(chosen)
    return drawn


async def admit(target: Target) -> bool:
    """Whether the deployment may be called now (not cooling down, under its rpm)."""
    if not target.deployment:
        return True
    cool, minute = _keys(target)
    if shared.on_redis():
        keys = [shared.raw_key(cool), shared.raw_key(minute)]
        return await counters.script("admit", ADMIT_SCRIPT)(keys=keys, args=[target.rpm]) == 1
    if cache.get(cool):
        return False
    if target.rpm:
        cache.add(minute, 0, 61)
        return cache.incr(minute) <= target.rpm
    return True


async def cool_down(target: Target) -> None:
    """Leave the deployment alone, in every process, for its API's cooldown."""
    if target.deployment:
        await shared.set(_keys(target)[0], 1, target.cooldown)


def began(target: Target) -> float:
    """Count a call to the deployment in flight; when it began."""
    _in_flight[_name(target)] += 1
    return time.monotonic()


def ended(target: Target, began_at: float) -> None:
    """The call is over: one fewer in flight, and its latency in the running figure."""
    name = _name(target)
    _in_flight[name] -= 1
    took = time.monotonic() - began_at
    before = _latency.get(name)
    _latency[name] = took if before is None else before + LATENCY_WEIGHT * (took - before)


def _name(target: Target) -> tuple[int, str]:
    return target.api_id, target.deployment


def _keys(target: Target) -> tuple[str, str]:
    # One hash tag per API: both keys of one script in one Redis Cluster slot.
    base = f"gw:{{api:{target.api_id}}}:deployment:{target.deployment}"
    return f"{base}:cool", f"{base}:rpm:{clock.now() // 60}"
