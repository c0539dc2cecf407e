"""Per-subscription counters in the shared cache: one atomic round trip per call.

On Redis a Lua script counts the rate window and the monthly quotas together (their keys share
the application's hash tag, so on a Redis Cluster they lie in one slot), and reads the
call's cached answer on the way (so a cache hit costs no extra round trip), or takes an AI
call's reservation of its budgets and token quota with them (so a budgeted call costs none
either), from the event loop; the settlement of a reservation is a script sent with the call's
usage event. On the embedded local-memory cache (one process) the same logic runs on the cache
API.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

from apis.usage.recorder import Alongside
from core import shared

# KEYS: rate window, monthly requests, monthly tokens, then either the call's cached answer or,
# for an AI call that reserves its worst case, the month's spend of the subscription and of the
# application (nano-USD). ARGV: rate window ttl, rate limit, request quota (0: none), token quota
# (0: none), month ttl, then for a reservation: the worst case in nano-USD and in tokens, the
# subscription's budget and the application's (-1: none).
# All or nothing: a call refused by the rate limit, a quota or a budget takes nothing of the
# monthly quotas or budgets (its rate window counts it); one refused by the request quota reads
# as quota + 1 so that the caller sees it is over. The answer: {rate, month, tokens, cached
# answer, then whether the reservation fits and the two spends after (or as they stand)}.
TAKE_SCRIPT = """
local rate = redis.call('INCR', KEYS[1])
if rate == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local month = tonumber(redis.call('GET', KEYS[2]) or '0')
local tokens = tonumber(redis.call('GET', KEYS[3]) or '0')
local quota, token_quota = tonumber(ARGV[3]), tonumber(ARGV[4])
local admitted = rate <= tonumber(ARGV[2]) and (quota == 0 or month < quota)
    and (token_quota == 0 or tokens < token_quota)
local fits, spent = 1, {0, 0}
if ARGV[6] then
  local cost, want = tonumber(ARGV[6]), tonumber(ARGV[7])
  local budgets = {tonumber(ARGV[8]), tonumber(ARGV[9])}
  for i = 1, 2 do
    spent[i] = tonumber(redis.call('GET', KEYS[3 + i]) or '0')
    if budgets[i] >= 0 and spent[i] + cost > budgets[i] then fits = 0 end
  end
  if token_quota > 0 and tokens + want > token_quota then fits = 0 end
  if admitted and fits == 1 then
    for i = 1, 2 do
      spent[i] = redis.call('INCRBY', KEYS[3 + i], cost)
      redis.call('EXPIRE', KEYS[3 + i], ARGV[5])
    end
    tokens = redis.call('INCRBY', KEYS[3], want)
    redis.call('EXPIRE', KEYS[3], ARGV[5])
  end
end
if admitted and fits == 1 then
  month = redis.call('INCR', KEYS[2])
  if month == 1 then redis.call('EXPIRE', KEYS[2], ARGV[5]) end
elseif quota > 0 and month >= quota then
  month = month + 1
end
local cached = false
if KEYS[4] and not ARGV[6] then cached = redis.call('GET', KEYS[4]) end
return {rate, month, tokens, cached, fits, spent[1], spent[2]}
"""

# A reservation made after the call was counted (a prompt's second attempt).
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
    # An AI call's reservation, taken with the rest or not at all (its token key is
    # `token_key`); a call that reserves reads no cached answer.
    hold: Hold | None = None


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
    """The counters after the call was counted, the value at peek_key if asked for and, for a
    reservation, how it went."""

    rate: int
    month: int
    tokens: int
    peeked: Any = None
    # When the call reserved: whether the reservation fitted, and the counters after it.
    held: Held | None = None


_scripts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def take(request: Take) -> Counts:
    """Count one call against its rate window and, when admitted, its monthly quota; take its
    reservation with them, when it has one."""
    if shared.on_redis():
        return await _redis_take(request)
    return _local_take(request)


async def reserve(hold: Hold) -> Held:
    """Take the call's worst case from its budgets and token quota, all or nothing."""
    args = [hold.cost, hold.tokens, *hold.limits, hold.month_ttl]
    if shared.on_redis():
        keys = [shared.raw_key(key) for key in hold.keys]
        fits, *spent = await script("reserve", RESERVE_SCRIPT)(keys=keys, args=args)
        return Held(bool(fits), three(spent))
    return _local_hold(hold, admitted=True)


def settle_script(hold: Hold, *, cost: int, tokens: int) -> Alongside:
    """On Redis: the script that replaces the call's reservation by what it really cost and
    used, to send with its usage event; its reply is the counters after (`three`)."""
    keys = [shared.raw_key(key) for key in hold.keys]
    args = [cost - hold.cost, tokens - hold.tokens, hold.month_ttl]
    return Alongside(script("settle", SETTLE_SCRIPT), keys, args)


def settle_local(hold: Hold, *, cost: int, tokens: int) -> tuple[int, int, int]:
    """On the embedded cache: the same at once; the counters after."""
    extra_cost, extra_tokens = cost - hold.cost, tokens - hold.tokens
    amounts = (extra_cost, extra_cost, extra_tokens)
    return three(
        _incr(key, amount, hold.month_ttl) if amount else _local().get(key, 0)
        for key, amount in zip(hold.keys, amounts, strict=True)
    )


def three(counts: Iterable[int]) -> tuple[int, int, int]:
    """A hold's three counters (the subscription's spend, the application's, the tokens)."""
    subscription, application, tokens = (int(n) for n in counts)
    return subscription, application, tokens


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
    hold = request.hold
    names = [request.rate_key, request.month_key, request.token_key]
    names += [*hold.keys[:2]] if hold else [request.peek_key] if request.peek_key else []
    args = [
        request.rate_ttl,
        request.rate_limit,
        request.quota,
        request.token_quota,
        request.month_ttl,
    ]
    if hold:
        args += [hold.cost, hold.tokens, *hold.limits[:2]]
    keys = [shared.raw_key(key) for key in names]
    rate, month, tokens, cached, fits, *spent = await script("take", TAKE_SCRIPT)(
        keys=keys, args=args
    )
    peeked = shared.loads(cached) if cached else None
    held = Held(bool(fits), three((*spent, tokens))) if hold else None
    return Counts(int(rate), int(month), int(tokens), peeked, held)


def _local_take(request: Take) -> Counts:
    # One process, and nothing here awaits: the event loop makes it atomic.
    rate = _incr(request.rate_key, 1, request.rate_ttl)
    month = _local().get(request.month_key, 0)
    tokens = _local().get(request.token_key, 0)
    admitted = rate <= request.rate_limit
    admitted = admitted and (not request.quota or month < request.quota)
    admitted = admitted and (not request.token_quota or tokens < request.token_quota)
    held = _local_hold(request.hold, admitted=admitted) if request.hold else None
    if admitted and (held is None or held.taken):
        month = _incr(request.month_key, 1, request.month_ttl)
    elif request.quota and month >= request.quota:
        month += 1
    tokens = held.spent[2] if held else tokens
    peeked = _local().get(request.peek_key) if request.peek_key else None
    return Counts(rate, month, tokens, peeked, held)


def _local_hold(hold: Hold, *, admitted: bool) -> Held:
    """The hold taken if it fits and the call is admitted, else the counters as they stand."""
    now = [_local().get(key, 0) for key in hold.keys]
    amounts = (hold.cost, hold.cost, hold.tokens)
    fits = all(cap < 0 or n + a <= cap for n, a, cap in zip(now, amounts, hold.limits, strict=True))
    if fits and admitted:
        now = [_incr(key, a, hold.month_ttl) for key, a in zip(hold.keys, amounts, strict=True)]
    return Held(fits, three(now))


def _local() -> BaseCache:
    # The embedded default's one cache, which the rest of the shared state lives in too.
    return caches["default"]


def _incr(key: str, amount: int, ttl: int) -> int:
    if _local().add(key, amount, ttl):
        return amount
    return _local().incr(key, amount)
