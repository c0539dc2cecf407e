"""Admin of the lifecycle: the history of transitions, read-only everywhere it appears."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.contenttypes.admin import GenericTabularInline
from django.db.models import QuerySet
from django.http import HttpRequest

from lifecycle.models import LifecycleEvent

HISTORY_FIELDS = ("from_state", "to_state", "actor", "at", "note", "sunset")


class ReadOnlyMixin:
    """History is an audit trail: admins read it, only the transition service writes it."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LifecycleEventInline(ReadOnlyMixin, GenericTabularInline):
    """The lifecycle history of the object on the page, newest first."""

    model = LifecycleEvent
    ct_field = "content_type"
    ct_fk_field = "object_id"
    fields = HISTORY_FIELDS
    readonly_fields = HISTORY_FIELDS
    extra = 0
    can_delete = False
    verbose_name = "lifecycle event"
    verbose_name_plural = "lifecycle history"


@admin.register(LifecycleEvent)
class LifecycleEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["subject", "from_state", "to_state", "actor", "at", "sunset", "note"]
    list_filter = ["to_state", "from_state", "content_type"]
    search_fields = ["note", "object_id", "actor__username"]
    date_hierarchy = "at"
    readonly_fields = ("content_type", "object_id", *HISTORY_FIELDS)
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[LifecycleEvent]:
        return super().get_queryset(request).select_related("actor").prefetch_related("subject")
