"""Admin of usage: events and their hourly and daily rollups, read-only for staff."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from apis.usage.models import SpendAlert, SpendRollup, UsageEvent, UsageRejected, UsageRollup
from apis.usage.selectors import month_start, spend_this_month


class ReadOnlyAdmin(admin.ModelAdmin):
    """Usage is written by the gateway and the rollup only: staff look, never edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(UsageEvent)
class UsageEventAdmin(ReadOnlyAdmin):
    list_display = [
        "at",
        "api",
        "application",
        "status",
        "latency_ms",
        "channel",
        "model",
        "cost",
        "estimated",
        "cached",
    ]
    # `model` names the deployment that answered, when the API has deployments.
    list_filter = ["channel", "api", "estimated", "cached", "model"]
    list_select_related = ["api", "application"]
    search_fields = ["request_id", "application__name", "api__slug"]
    date_hierarchy = "at"
    show_full_result_count = False


@admin.register(UsageRollup)
class UsageRollupAdmin(ReadOnlyAdmin):
    list_display = [
        "period_start",
        "granularity",
        "api",
        "application",
        "requests",
        "errors",
        "prompt_tokens",
        "completion_tokens",
        "cost",
        "p50_ms",
        "p95_ms",
    ]
    list_filter = ["granularity", "api"]
    list_select_related = ["api", "application"]
    search_fields = ["application__name", "api__slug"]
    date_hierarchy = "period_start"


@admin.register(UsageRejected)
class UsageRejectedAdmin(ReadOnlyAdmin):
    """Entries the database refused, kept for staff to see (and to delete once understood)."""

    list_display = ["at", "source_id", "reason"]
    search_fields = ["source_id", "reason"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_superuser


@admin.register(SpendAlert)
class SpendAlertAdmin(ReadOnlyAdmin):
    """The 80% and 100% alerts of budgets and quotas, as their owners were told."""

    list_display = ["created_at", "application", "api", "policy", "threshold", "month", "detail"]
    list_filter = ["policy", "threshold", "month"]
    list_select_related = ["application", "api"]
    search_fields = ["application__name", "api__slug"]


@admin.register(SpendRollup)
class SpendRollupAdmin(ReadOnlyAdmin):
    """The month's spend per application, API and deployment, and the estimated part of it."""

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            return super().changelist_view(request, extra_context)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Spend in {month_start():%B %Y}",
            "opts": self.model._meta,
            "spend": spend_this_month(),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/usage/spendrollup/month.html", context)
