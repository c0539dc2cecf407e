"""Time for the data plane and the tokens, behind one object that tests move without sleeping.

Wall time (`time`, `now`, `utcnow`) is what claims, windows, months and stored answers are dated
in; monotonic time is for "at most once per interval" checks. Durations of one call (latency)
are measured on `time.perf_counter` where they are taken, and cool-downs shared between
processes on Redis' own clock (TIME): neither is a reading a test has to move.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """Wall-clock and monotonic seconds; every other reading derives from these two."""

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """A clock that never goes back, for measuring intervals."""
        return time.monotonic()

    def now(self) -> int:
        """Whole seconds since the epoch, as in JWT NumericDate claims."""
        return int(self.time())

    def utcnow(self) -> datetime:
        """The wall-clock time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)


clock = Clock()
