"""Admin of the keys app: applications (the secret is never shown) and token keys."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from keys.models import Application, TokenKey
from keys.services import token_keys_rotate


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "client_id", "created_by", "monthly_budget", "created_at"]
    search_fields = ["name", "client_id", "team__name", "created_by__username"]
    list_select_related = ["team", "created_by"]
    readonly_fields = ["client_id", "created_by", "created_at", "secret_rotated_at"]
    fields = ["team", "name", "monthly_budget", *readonly_fields]
    raw_id_fields = ["team"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Only the developer's create flow can show the new secret once.
        return False


@admin.register(TokenKey)
class TokenKeyAdmin(admin.ModelAdmin):
    list_display = ["kid", "use", "alg", "status", "created_at", "retire_after", "retired_at"]
    list_filter = ["use", "status", "alg"]
    readonly_fields = (
        "kid",
        "use",
        "alg",
        "status",
        "public_jwk",
        "created_at",
        "retiring_at",
        "retire_after",
        "retired_at",
    )
    fields = readonly_fields
    actions = ["rotate"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TokenKey | None = None) -> bool:
        return False

    @admin.action(description="Rotate: new active keys, the current ones keep verifying")
    def rotate(self, request: HttpRequest, queryset: QuerySet[TokenKey]) -> None:
        created = token_keys_rotate()
        kids = ", ".join(key.kid for key in created)
        self.message_user(request, f"New active keys: {kids}.", messages.SUCCESS)
