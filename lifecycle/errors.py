"""Errors of the lifecycle."""

from __future__ import annotations

from core.errors import Conflict
from lifecycle.states import allowed_from


class TransitionNotAllowed(Conflict):
    """The lifecycle forbids this move; names the moves it allows."""

    title = "Transition not allowed"

    @classmethod
    def between(cls, current: str, to: str) -> TransitionNotAllowed:
        """The refusal of the move from `current` to `to`, naming the moves allowed instead."""
        allowed = allowed_from(current)
        return cls(
            f"Cannot move from '{current}' to '{to}'. Allowed from '{current}': "
            + (", ".join(allowed) if allowed else "none (terminal state)")
            + ".",
            current=current,
            allowed=allowed,
        )
