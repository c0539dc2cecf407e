"""The one way to move an object through its lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from lifecycle.errors import TransitionNotAllowed
from lifecycle.models import LifecycleEvent, LifecycleModel, _transitioning
from lifecycle.states import TRANSITIONS, State

Subject = TypeVar("Subject", bound=LifecycleModel)


@transaction.atomic
def transition(
    subject: Subject,
    *,
    to: str,
    actor: User | None = None,
    note: str = "",
    sunset: datetime | None = None,
    guard: Callable[[Subject, str], None] | None = None,
    effects: Callable[[Subject, LifecycleEvent], None] | None = None,
) -> LifecycleEvent:
    """Move `subject` to state `to`, write the history row and apply the effects.

    The owner of the model passes its own rules: `guard(subject, to)` raises a PortcullisError
    when the table allows the move but the object is not ready for it; `effects(subject, event)`
    runs inside the transaction once the state has changed. Both get the locked row.

    The row lock makes concurrent transitions of one object queue up: the second one sees
    the state the first one left and is judged against it, never against a stale copy.
    """
    locked = type(subject)._default_manager.select_for_update().get(pk=subject.pk)
    current = locked.state
    if to not in State.values or to not in TRANSITIONS[current]:
        raise TransitionNotAllowed.between(current, to)
    if guard is not None:
        guard(locked, to)
    token = _transitioning.set(True)
    try:
        locked.state = to
        if sunset is not None or to == State.PUBLISHED:
            locked.sunset = sunset
        locked.save(update_fields=["state", "sunset"])
    finally:
        _transitioning.reset(token)
    event = _event(locked, from_state=current, actor=actor, note=note)
    if effects is not None:
        effects(locked, event)
    subject.refresh_from_db()
    return event


def record_change(
    subject: LifecycleModel, *, actor: User | None = None, note: str
) -> LifecycleEvent:
    """A history row for a change that keeps the state (from and to are the current state)."""
    return _event(subject, from_state=subject.state, actor=actor, note=note)


def _event(
    subject: LifecycleModel, *, from_state: str, actor: User | None, note: str
) -> LifecycleEvent:
    return LifecycleEvent.objects.create(
        content_type=ContentType.objects.get_for_model(subject, for_concrete_model=True),
        object_id=str(subject.pk),
        from_state=from_state,
        to_state=subject.state,
        actor=actor if actor is not None and actor.is_authenticated else None,
        note=note,
        sunset=subject.sunset,
    )
