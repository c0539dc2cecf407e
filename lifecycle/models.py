"""The lifecycle-managed base model and the history row every transition writes."""

from __future__ import annotations

import contextvars
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models

from lifecycle.states import INITIAL, State

# Set only inside lifecycle.services.transition(): the one place allowed to change a state.
_transitioning: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "lifecycle_transitioning", default=False
)


class StateChangeOutsideTransition(Exception):
    """The state field was assigned directly instead of through transition()."""


class LifecycleModel(models.Model):
    """A model whose `state` only the transition service may change."""

    state = models.CharField(
        max_length=16, choices=State.choices, default=INITIAL, editable=False, db_index=True
    )
    sunset = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._saved_state = self.state if self.pk else INITIAL

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.state != self._saved_state and not _transitioning.get():
            raise StateChangeOutsideTransition(
                f"{type(self).__name__}.state changes only through lifecycle.services.transition()"
            )
        super().save(*args, **kwargs)
        self._saved_state = self.state

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        super().refresh_from_db(*args, **kwargs)
        self._saved_state = self.state


class LifecycleEvent(models.Model):
    """One transition: the audit trail of an object's lifecycle."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.CharField(max_length=64)
    subject = GenericForeignKey("content_type", "object_id")
    from_state = models.CharField(max_length=16, choices=State.choices)
    to_state = models.CharField(max_length=16, choices=State.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True)
    sunset = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "-at"])]
        verbose_name = "lifecycle event"

    def __str__(self) -> str:
        return f"{self.from_state} → {self.to_state}"
