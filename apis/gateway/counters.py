"""Per-subscription counters in the shared cache: one atomic round trip per call.

On Redis a Lua script counts the rate window and the monthly quotas together (their keys share
the application's hash tag, so on a Redis Cluster they lie in one slot), and reads the
call's cached answer on the way (so a cache hit costs no extra round trip), from the event loop;
on the embedded local-memory cache (one process) the same logic runs on the cache API.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, replace
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

from core import shared

# KEYS: rate window, monthly requests, monthly tokens and, optionally, a cached answer.
# ARGV: rate window ttl, rate limit, request quota (0: none), token quota (0: none), month ttl.
# A call refused by the rate limit or a quota does not use up the monthly request quota; one
# refused by the request quota reads as quota + 1 so that the caller sees it is over.
TAKE_SCRIPT = """
local rate = redis.call('INCR', KEYS[1])
if rate == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local month = tonumber(redis.call('GET', KEYS[2]) or '0')
local tokens = tonumber(redis.call('GET', KEYS[3]) or '0')
local quota, token_quota = tonumber(ARGV[3]), tonumber(ARGV[4])
if rate <= tonumber(ARGV[2]) and (quota == 0 or month < quota)
    and (token_quota == 0 or tokens < token_quota) then
  month = redis.call('INCR', KEYS[2])
  if month == 1 then redis.call('EXPIRE', KEYS[2], ARGV[5]) end
elseif quota > 0 and month >= quota then
  month = month + 1
end
local cached = false
if KEYS[4] then cached = redis.call('GET', KEYS[4]) end
return {rate, month, tokens, cached}
"""

# KEYS: the month's spend of the subscription (nano-USD), of the application, and the month's
# tokens of the application on its plan; all three share the application's hash tag.
# ARGV: the call's worst case in nano-USD and in tokens, then the subscription's budget, the
# application's budget and the token quota (-1: none), and the month's ttl. Nothing is taken
# unless all three fit; the answer is {0 or 1, spends and tokens after}.
RESERVE_SCRIPT = """
local cost, tokens = tonumber(ARGV[1]), tonumber(ARGV[2])
local limits = {tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])}
local amounts = {cost, cost, tokens}
local now = {}
local fits = 1
for i = 1, 3 do
  now[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  if limits[i] >= 0 and now[i] + amounts[i] > limits[i] then fits = 0 end
end
if fits == 1 then
  for i = 1, 3 do
    now[i] = redis.call('INCRBY', KEYS[i], amounts[i])
    redis.call('EXPIRE', KEYS[i], ARGV[6])
  end
end
return {fits, now[1], now[2], now[3]}
"""

# KEYS as above; ARGV: what the call cost beyond (or, negative, short of) its reservation in
# nano-USD and in tokens, and the month's ttl.
# The answer: the spends and tokens after.
SETTLE_SCRIPT = """
local now = {}
for i = 1, 3 do
  local amount = tonumber(ARGV[i == 3 and 2 or 1])
  if amount ~= 0 then
    now[i] = redis.call('INCRBY', KEYS[i], amount)
    redis.call('EXPIRE', KEYS[i], ARGV[3])
  else
    now[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
end
return now
"""


@dataclass(frozen=True)
class Take:
    """What one call asks of the counters."""

    rate_key: str
    rate_ttl: int
    rate_limit: int
    month_key: str
    token_key: str
    quota: int
    token_quota: int
    month_ttl: int
    peek_key: str = ""


@dataclass(frozen=True)
class Hold:
    """What one AI call reserves: its worst case, against the month's spends and tokens."""

    keys: tuple[str, str, str]
    cost: int
    tokens: int
    limits: tuple[int, int, int]
    month_ttl: int


@dataclass(frozen=True)
class MinuteHold:
    """Tokens a call reserved in a deployment's minute, settled when the call is over."""

    key: str
    tokens: int


@dataclass(frozen=True)
class Held:
    """Whether the hold was taken, and the spends and tokens after it (or as they stand)."""

    taken: bool
    spent: tuple[int, int, int]


@dataclass(frozen=True)
class Counts:
    """The counters after the call was counted, and the value at peek_key if asked for."""

    rate: int
    month: int
    tokens: int
    peeked: Any = None


_scripts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def take(request: Take) -> Counts:
    """Count one call against its rate window and, when admitted, its monthly quota."""
    if shared.on_redis():
        return await _redis_take(request)
    return _local_take(request)


async def reserve(hold: Hold) -> Held:
    """Take the call's worst case from its budgets and token quota, all or nothing."""
    args = [hold.cost, hold.tokens, *hold.limits, hold.month_ttl]
    if shared.on_redis():
        keys = [shared.raw_key(key) for key in hold.keys]
        fits, *spent = await script("reserve", RESERVE_SCRIPT)(keys=keys, args=args)
        return Held(bool(fits), tuple(int(n) for n in spent))
    # One process, and nothing here awaits: the event loop makes it atomic.
    now = [_local().get(key, 0) for key in hold.keys]
    amounts = (hold.cost, hold.cost, hold.tokens)
    fits = all(cap < 0 or n + a <= cap for n, a, cap in zip(now, amounts, hold.limits, strict=True))
    if fits:
        now = [_incr(key, a, hold.month_ttl) for key, a in zip(hold.keys, amounts, strict=True)]
    return Held(fits, tuple(now))


async def settle(hold: Hold, *, cost: int, tokens: int) -> tuple[int, int, int]:
    """Replace the call's reservation by what it really cost and used; the counters after."""
    extra_cost, extra_tokens = cost - hold.cost, tokens - hold.tokens
    if shared.on_redis():
        keys = [shared.raw_key(key) for key in hold.keys]
        args = [extra_cost, extra_tokens, hold.month_ttl]
        now = await script("settle", SETTLE_SCRIPT)(keys=keys, args=args)
        return tuple(int(n) for n in now)
    amounts = (extra_cost, extra_cost, extra_tokens)
    return tuple(
        _incr(key, amount, hold.month_ttl) if amount else _local().get(key, 0)
        for key, amount in zip(hold.keys, amounts, strict=True)
    )


def script(name: str, source: str):
    """The script registered on the running loop's client (scripts hold their client)."""
    client = shared.client()
    registered = _scripts.get(client)
    if registered is None:
        registered = _scripts[client] = {}
    if name not in registered:
        registered[name] = client.register_script(source)
    return registered[name]


async def _redis_take(request: Take) -> Counts:
    if request.peek_key and shared.on_cluster():
        # The cached answer lives in the API's slot, not the application's: read it beside
        # the script, in the same moment rather than one more round trip later.
        counts, peeked = await asyncio.gather(
            _redis_take(replace(request, peek_key="")), shared.get(request.peek_key)
        )
        return replace(counts, peeked=peeked)
    keys = [
        shared.raw_key(key)
        for key in (request.rate_key, request.month_key, request.token_key, request.peek_key)
        if key
    ]
    args = [
        request.rate_ttl,
        request.rate_limit,
        request.quota,
        request.token_quota,
        request.month_ttl,
    ]
    rate, month, tokens, *cached = await script("take", TAKE_SCRIPT)(keys=keys, args=args)
    peeked = shared.loads(cached[0]) if cached and cached[0] else None
    return Counts(int(rate), int(month), int(tokens), peeked)


def _local_take(request: Take) -> Counts:
    rate = _incr(request.rate_key, 1, request.rate_ttl)
    month = _local().get(request.month_key, 0)
    tokens = _local().get(request.token_key, 0)
    admitted = rate <= request.rate_limit
    admitted = admitted and (not request.quota or month < request.quota)
    if admitted and (not request.token_quota or tokens < request.token_quota):
        month = _incr(request.month_key, 1, request.month_ttl)
    elif request.quota and month >= request.quota:
        month += 1
    peeked = _local().get(request.peek_key) if request.peek_key else None
    return Counts(rate, month, tokens, peeked)


def _local() -> BaseCache:
    # The embedded default's one cache, which the rest of the shared state lives in too.
    return caches["default"]


def _incr(key: str, amount: int, ttl: int) -> int:
    if _local().add(key, amount, ttl):
        return amount
    return _local().incr(key, amount)
