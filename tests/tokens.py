"""A test helper: a real access token for an application, as the token endpoint issues it."""

from __future__ import annotations

from keys.models import Application
from keys.tokens import issue_access_token


def token_for(application: Application, scope: list[str] | None = None) -> str:
    """An encrypted access token of `application` (scope: its active subscriptions by default)."""
    return issue_access_token(application=application, scope=scope).access_token


class ManualClock:
    """Stands in for keys.clock.clock in tests: time moves only when told to."""

    def __init__(self, monkeypatch, start: int | None = None) -> None:
        from keys.clock import clock

        self.wall = start if start is not None else clock.now()
        self.mono = 1_000_000.0
        monkeypatch.setattr(clock, "now", lambda: self.wall)
        monkeypatch.setattr(clock, "monotonic", lambda: self.mono)

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        self.wall += int(seconds)
        self.mono += seconds
