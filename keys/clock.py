"""Time for the token code, behind one small object so tests can move it without sleeping."""

from __future__ import annotations

import time


class Clock:
    """Wall-clock seconds for token claims, monotonic seconds for polling intervals."""

    def now(self) -> int:
        """Seconds since the epoch, as in JWT NumericDate claims."""
        return int(time.time())

    def monotonic(self) -> float:
        """A clock that never goes back, for measuring intervals."""
        return time.monotonic()


clock = Clock()
