"""Circuit breakers of upstream targets, shared by every gateway process through Redis.

A target's circuit is closed (calls go to it), open (none do, until its cool-down is over) or
half-open (one trial call is out; its outcome closes or reopens the circuit). Each target's
state is one Redis hash, and every target of an API shares the hash tag `{gw:up:<api id>}`,
so one script reads and changes all of an API's targets in one slot of a Redis Cluster. The
clock is Redis' own (TIME), so gateway nodes whose clocks differ agree on when a cool-down
ends. On the embedded default (one process) the same rules run on a dictionary.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from apis.models import Api, UpstreamTarget
from core import shared

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
# A hash nobody has touched for this long is forgotten (a closed circuit, or a deleted target).
FORGET_MS = 86_400_000

# KEYS: the targets' hashes, most wanted first. ARGV[1]: how long a trial may take (ms).
# Returns {index of the target to call (0: none), 1 if the call is a trial, ms until one of
# them may be tried again}.
CHOOSE_SCRIPT = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local wait = -1
for i, key in ipairs(KEYS) do
  local state, open_until, trial_until =
    unpack(redis.call('HMGET', key, 'state', 'open_until', 'trial_until'))
  local free_at = nil
  if not state then return {i, 0, 0} end
  if state == 'open' then free_at = tonumber(open_until) else free_at = tonumber(trial_until) end
  if now >= free_at then
    redis.call('HSET', key, 'state', 'half_open', 'trial_until', now + tonumber(ARGV[1]))
    redis.call('PEXPIRE', key, ARGV[2])
    return {i, 1, 0}
  end
  if wait < 0 or free_at - now < wait then wait = free_at - now end
end
return {0, 0, wait}
"""

# KEYS[1]: the target's hash. ARGV: 'ok' or 'fail', failures that open it, window (ms),
# cool-down (ms), '1' when a health probe says so (it decides at once), what happened.
REPORT_SCRIPT = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local state = redis.call('HGET', KEYS[1], 'state')
local forced = ARGV[5] == '1'
if ARGV[1] == 'ok' then
  if state == 'half_open' or (forced and state) then redis.call('DEL', KEYS[1]) end
  return 'closed'
end
if state == 'open' and not forced then return 'open' end
local opens = forced or state == 'half_open'
if not opens then
  local window_end = tonumber(redis.call('HGET', KEYS[1], 'window_end') or '0')
  local failures = 1
  if now < window_end then
    failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
  else
    redis.call('HSET', KEYS[1], 'failures', 1, 'window_end', now + tonumber(ARGV[3]))
  end
  opens = failures >= tonumber(ARGV[2])
end
if opens then
  redis.call('HSET', KEYS[1], 'state', 'open', 'open_until', now + tonumber(ARGV[4]),
    'reason', ARGV[6], 'opened_at', now)
end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return redis.call('HGET', KEYS[1], 'state') or 'closed'
"""


@dataclass(frozen=True)
class Choice:
    """The target a call goes to; `trial` when it is the one call of a half-open circuit."""

    target: UpstreamTarget
    trial: bool


@dataclass(frozen=True)
class Circuit:
    """A target's circuit as admin and /metrics show it."""

    state: str
    failures: int = 0
    reason: str = ""
    # Seconds until an open circuit lets a trial call through.
    reopens_in: int = 0


def circuit_key(target: UpstreamTarget) -> str:
    """The target's hash in the shared cache: every target of an API in one hash slot."""
    return shared.raw_key(f"{{gw:up:{target.api_id}}}:{target.pk}")


async def choose(api: Api, candidates: Sequence[UpstreamTarget]) -> Choice | float:
    """The first candidate whose circuit lets the call through, or the seconds until one may."""
    if not candidates:
        return 0.0
    lease_ms = (api.connect_timeout + (api.total_timeout or api.timeout)) * 1000
    if shared.on_redis():
        script = _script("choose", CHOOSE_SCRIPT)
        keys = [circuit_key(target) for target in candidates]
        index, trial, wait = await script(keys=keys, args=[lease_ms, FORGET_MS])
    else:
        index, trial, wait = _local.choose([t.pk for t in candidates], lease_ms)
    if index:
        return Choice(candidates[index - 1], bool(trial))
    return wait / 1000


async def report(target: UpstreamTarget, api: Api, *, ok: bool, reason: str = "") -> str:
    """Count a call's outcome against its target; the circuit's state afterwards."""
    return await _report(target, api, ok=ok, forced=False, reason=reason)


async def probed(target: UpstreamTarget, api: Api, *, ok: bool, reason: str = "") -> str:
    """A health probe's verdict: a failed probe opens the circuit, a passed one closes it."""
    return await _report(target, api, ok=ok, forced=True, reason=reason)


async def _report(target: UpstreamTarget, api: Api, *, ok: bool, forced: bool, reason: str) -> str:
    args = [
        "ok" if ok else "fail",
        api.circuit_failures,
        api.circuit_window * 1000,
        api.circuit_cool_down * 1000,
        "1" if forced else "0",
        reason[:200],
        FORGET_MS,
    ]
    if not shared.on_redis():
        return _local.report(target.pk, *args[:6])
    state = await _script("report", REPORT_SCRIPT)(keys=[circuit_key(target)], args=args)
    return state.decode() if isinstance(state, bytes) else state


def circuits_of(targets: Sequence[UpstreamTarget]) -> dict[int, Circuit]:
    """Each target's circuit (by target id), read from sync code: admin and /metrics."""
    if not shared.on_redis():
        return {target.pk: _local.circuit(target.pk) for target in targets}
    client = shared.sync_client()
    pipeline = client.pipeline(transaction=False)
    for target in targets:
        pipeline.hgetall(circuit_key(target))
    now_ms = _redis_now_ms(client)
    rows = [{k.decode(): v.decode() for k, v in row.items()} for row in pipeline.execute()]
    return {target.pk: _circuit(row, now_ms) for target, row in zip(targets, rows, strict=True)}


def _redis_now_ms(client) -> int:
    seconds, micros = client.time()
    return seconds * 1000 + micros // 1000


def _circuit(fields: dict, now_ms: int) -> Circuit:
    state = fields.get("state", CLOSED)
    failures = int(fields.get("failures", 0)) if now_ms < int(fields.get("window_end", 0)) else 0
    free_at = int(fields.get("open_until" if state == OPEN else "trial_until", 0))
    reopens = max(0, -(-(free_at - now_ms) // 1000)) if state != CLOSED else 0
    return Circuit(state, failures, fields.get("reason", ""), reopens)


_scripts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _script(name: str, source: str):
    """The script registered on the running loop's client (scripts hold their client)."""
    client = shared.client()
    registered = _scripts.setdefault(client, {})
    if name not in registered:
        registered[name] = client.register_script(source)
    return registered[name]


class _LocalCircuits:
    """The scripts' rules on one process's memory, for the embedded default."""

    def __init__(self) -> None:
        self.rows: dict[int, dict] = {}

    def choose(self, target_ids: list[int], lease_ms: int) -> tuple[int, int, float]:
        now, wait = _now_ms(), -1.0
        for index, target_id in enumerate(target_ids, start=1):
            row = self.rows.get(target_id)
            if row is None or "state" not in row:
                return index, 0, 0
            free_at = row["open_until"] if row["state"] == OPEN else row["trial_until"]
            if now >= free_at:
                row.update(state=HALF_OPEN, trial_until=now + lease_ms)
                return index, 1, 0
            wait = free_at - now if wait < 0 else min(wait, free_at - now)
        return 0, 0, wait

    def report(self, target_id: int, outcome, threshold, window, cool_down, forced, reason) -> str:
        now, row = _now_ms(), self.rows.setdefault(target_id, {})
        state, forced = row.get("state"), forced == "1"
        if outcome == "ok":
            if state == HALF_OPEN or (forced and state):
                self.rows.pop(target_id)
            return CLOSED
        if state == OPEN and not forced:
            return OPEN
        opens = forced or state == HALF_OPEN
        if not opens:
            if now < row.get("window_end", 0):
                row["failures"] += 1
            else:
                row.update(failures=1, window_end=now + window)
            opens = row["failures"] >= threshold
        if opens:
            row.update(state=OPEN, open_until=now + cool_down, reason=reason)
        return row.get("state", CLOSED)

    def circuit(self, target_id: int) -> Circuit:
        return _circuit(self.rows.get(target_id, {}), _now_ms())


def _now_ms() -> int:
    return int(time.time() * 1000)


_local = _LocalCircuits()
