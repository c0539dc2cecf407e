"""Errors of the lifecycle."""

from core.errors import Conflict


class TransitionNotAllowed(Conflict):
    """The lifecycle forbids this move; names the moves it allows."""

    title = "Transition not allowed"
