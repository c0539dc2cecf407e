"""Failed attempts at a secret, counted in fixed windows in the shared cache.

An attempt takes its place in every counter *before* the secret is checked and gives it back
when the secret was right, so concurrent guesses from many processes can never get more than
the limit through: the counters hold failures plus attempts still in flight.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.cache import cache

from core.clock import clock

RATE = re.compile(r"^(\d+)/(\d*)([smhd])$")
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Limit:
    """At most `count` failures per window of `seconds`, counted under `name`."""

    name: str
    count: int
    seconds: int

    @classmethod
    def of(cls, name: str, rate: str) -> Limit:
        """A limit from django-ratelimit's rate syntax: `10/m`, `10/15m`, `100/d`."""
        match = RATE.match(rate)
        if match is None:
            raise ValueError(f"invalid rate {rate!r}: write it like 10/m or 10/15m")
        count, multiple, period = match.groups()
        return cls(name, int(count), int(multiple or 1) * PERIODS[period])


@dataclass
class Attempt:
    """One attempt's places in its counters; `wait` > 0 when it was refused."""

    keys: list[str] = field(default_factory=list)
    wait: int = 0

    def release(self) -> None:
        """Give the places back: the secret was right, or never checked."""
        for key in self.keys:
            # A window that ended meanwhile took its count with it: nothing to give back.
            with contextlib.suppress(ValueError):
                cache.decr(key)
        self.keys = []


def attempt_start(limits: Iterable[Limit]) -> Attempt:
    """Take a place in each limit's current window; over any limit: refused, places given back."""
    now = clock.time()
    attempt, waits = Attempt(), []
    for limit in limits:
        window = int(now // limit.seconds)
        key = f"attempts:{_digest(limit.name)}:{limit.seconds}:{window}"
        cache.add(key, 0, timeout=limit.seconds + 1)
        attempt.keys.append(key)
        if cache.incr(key) > limit.count:
            waits.append(math.ceil((window + 1) * limit.seconds - now))
    if waits:
        attempt.release()
        attempt.wait = max(1, *waits)
    return attempt


def _digest(name: str) -> str:
    # Names carry client input (user names, client ids): bounded and safe as a cache key.
    return hashlib.sha256(name.encode()).hexdigest()[:32]
