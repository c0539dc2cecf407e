"""Several deployments serving one model: which to call first, and which to leave alone.

The order is the API's routing: by weight (a weighted draw per call), by the fewest calls this
process has in flight to each, or by the lowest latency it saw lately. A deployment that
answered 429, 5xx or timed out is cooled down for the API's `cooldown` seconds in the shared
cache, so that no process calls it until then. One at its declared requests per minute, or
without room this minute for the call's worst case of tokens under its declared tokens per
minute, is skipped the same way; the tokens are reserved in the deployment's minute, shared by
every process, and settled to what the call used once it is over. Skipped deployments give
their turn to the next, then to the fallbacks.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from enum import IntEnum

from django.core.cache import cache

from apis.ai.targets import Target
from apis.gateway import counters
from apis.gateway.counters import MinuteHold
from apis.models import Api
from apis.usage.recorder import Alongside
from core import shared
from core.clock import clock

# KEYS: the deployment's cooldown mark, this minute's request and token counters (one hash
# tag: one slot). ARGV: its requests and tokens per minute (0: none), the call's tokens.
# Nothing is counted unless both fit; the answer is an Admission.
ADMIT_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if rpm > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= rpm then return -1 end
if tpm > 0 and tonumber(redis.call('GET', KEYS[3]) or '0') + tokens > tpm then return -2 end
if rpm > 0 then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], 61)
end
if tpm > 0 then
  redis.call('INCRBY', KEYS[3], tokens)
  redis.call('EXPIRE', KEYS[3], 61)
end
return 1
"""
# KEYS: a minute's token counter; ARGV: what the call used beyond (negative: short of) its
# reservation. A minute already gone is left alone.
SETTLE_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""
MINUTE_TTL = 61
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


class Admission(IntEnum):
    """Whether a deployment may be called now, and if not, why."""

    ADMITTED = 1
    COOLING_DOWN = 0
    AT_RPM = -1
    AT_TPM = -2


async def admit(target: Target, tokens: int) -> tuple[Admission, MinuteHold | None]:
    """Whether the deployment may be called now: not cooling down, under its rpm and with room
    for `tokens` under its tpm; the tokens reserved, when it has a tpm."""
    if not target.deployment:
        return Admission.ADMITTED, None
    cool, requests, minute = _keys(target)
    tokens = tokens if target.tpm else 0
    if shared.on_redis():
        keys = [shared.raw_key(key) for key in (cool, requests, minute)]
        args = [target.rpm, target.tpm, tokens]
        admission = Admission(await counters.script("admit", ADMIT_SCRIPT)(keys=keys, args=args))
    else:
        admission = _local_admit(target, cool, requests, minute, tokens)
    held = MinuteHold(minute, tokens) if admission == Admission.ADMITTED and target.tpm else None
    return admission, held


def _local_admit(target: Target, cool: str, requests: str, minute: str, tokens: int) -> Admission:
    # One process, and nothing here awaits: the event loop makes it atomic.
    if cache.get(cool):
        return Admission.COOLING_DOWN
    if target.rpm and cache.get(requests, 0) >= target.rpm:
        return Admission.AT_RPM
    if target.tpm and cache.get(minute, 0) + tokens > target.tpm:
        return Admission.AT_TPM
    for key, amount in ((requests, int(bool(target.rpm))), (minute, tokens)):
        if amount and not cache.add(key, amount, MINUTE_TTL):
            cache.incr(key, amount)
    return Admission.ADMITTED


def settle_scripts(held: list[MinuteHold], used: int) -> list[Alongside]:
    """On Redis: the scripts that replace the tokens a call reserved in its deployments'
    minutes by those it used, to send with its usage event."""
    script = counters.script("minute-settle", SETTLE_SCRIPT)
    return [Alongside(script, [shared.raw_key(key)], [extra]) for key, extra in _extras(held, used)]


async def settle(held: list[MinuteHold], used: int) -> None:
    """The same, at once (an attempt that failed used none)."""
    if shared.on_redis():
        for script in settle_scripts(held, used):
            await script.run()
        return
    for key, extra in _extras(held, used):
        if cache.get(key) is not None:
            cache.incr(key, extra)


def _extras(held: list[MinuteHold], used: int) -> list[tuple[str, int]]:
    """What each hold's minute is owed (the first hold takes all the tokens: a call's attempts
    but one used none); the holds are settled from now."""
    holds = list(held)
    held.clear()
    extras = []
    for hold in holds:
        extra, used = used - hold.tokens, 0
        if extra:
            extras.append((hold.key, extra))
    return extras


def seconds_to_next_minute() -> int:
    """How long until the minute windows start again."""
    return 60 - clock.now() % 60


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


def _keys(target: Target) -> tuple[str, str, str]:
    # One hash tag per API: the keys of one script in one Redis Cluster slot.
    base = f"gw:{{api:{target.api_id}}}:deployment:{target.deployment}"
    minute = clock.now() // 60
    return f"{base}:cool", f"{base}:rpm:{minute}", f"{base}:tpm:{minute}"
