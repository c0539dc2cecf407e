"""A test helper: core.clock.clock held still, moved only when a test says so."""

from __future__ import annotations

import time

from core.clock import clock


class ManualClock:
    """Stands in for core.clock.clock: wall and monotonic time move only when told to."""

    def __init__(self, monkeypatch) -> None:
        self.wall = float(int(time.time()))
        self.mono = 1_000_000.0
        monkeypatch.setattr(clock, "time", lambda: self.wall)
        monkeypatch.setattr(clock, "monotonic", lambda: self.mono)

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        self.wall += seconds
        self.mono += seconds
