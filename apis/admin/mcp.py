"""Admin of MCP servers: snapshots refreshed on demand, plans' tools as checkboxes, the audit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apis.admin.usage import ReadOnlyAdmin
from apis.mcp.snapshots import snapshot_refresh
from apis.models import Api, McpSnapshot, ToolCallAudit
from apis.models.catalog import validate_allowed_tools

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups

ALL_TOOLS = ("*", "All tools (*), those the server adds later included")


def plan_form_for(api: Api | None) -> type[forms.ModelForm]:
    """The plan form of an API: an `mcp` API's plans grant its snapshot's tools by checkbox."""
    if api is None or api.kind != Api.Kind.MCP:
        return forms.ModelForm
    offered = McpSnapshot.objects.filter(api=api).values_list("tools", flat=True).first() or []
    names = [tool["name"] for tool in offered]

    class McpPlanForm(forms.ModelForm):
        allowed_tools = forms.MultipleChoiceField(
            required=False,
            widget=forms.CheckboxSelectMultiple,
            validators=[validate_allowed_tools],
            help_text="Tools of the server this plan lists and lets call; none by default.",
        )

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            granted = self.instance.allowed_tools if self.instance.pk else []
            # A tool granted before the server stopped offering it stays visible, to be removed.
            gone = [(name, f"{name} (no longer offered)") for name in granted if name not in names]
            choices = [ALL_TOOLS, *((name, name) for name in names), *gone]
            field = self.fields["allowed_tools"]
            assert isinstance(field, forms.MultipleChoiceField)  # as declared above
            field.choices = choices

    return McpPlanForm


def mcp_fields(fields: _FieldGroups, api: Api | None) -> _FieldGroups:
    """A plan's admin fields, with the granted tools for an `mcp` API's plans."""
    others = [name for name in fields if name != "allowed_tools"]
    return [*others, "allowed_tools"] if api is not None and api.kind == Api.Kind.MCP else others


@admin.action(description="Refresh the MCP snapshot of the selected APIs", permissions=["change"])
def refresh_snapshots(modeladmin: admin.ModelAdmin, request: HttpRequest, apis: QuerySet) -> None:
    """Ask each selected MCP server for its tools, prompts and resources now."""
    for api in apis.filter(kind=Api.Kind.MCP).order_by("slug"):
        snapshot = snapshot_refresh(api=api)
        if snapshot.error:
            modeladmin.message_user(request, f"{api.slug}: {snapshot.error}", messages.ERROR)
        else:
            tools = len(snapshot.tools)
            modeladmin.message_user(request, f"{api.slug}: {tools} tool(s).", messages.SUCCESS)


@admin.register(McpSnapshot)
class McpSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["api", "protocol_version", "tool_count", "refreshed_at", "error"]
    list_select_related = ["api"]
    fields = ("api", "protocol_version", "refreshed_at", "error", "tools", "prompts", "resources")
    readonly_fields = fields
    actions = ["refresh"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Viewing (and the refresh action) only; the lists come from the server.
        return obj is None and request.user.is_staff

    @admin.display(description="tools")
    def tool_count(self, snapshot: McpSnapshot) -> int:
        return len(snapshot.tools)

    @admin.action(description="Refresh the selected snapshots now")
    def refresh(self, request: HttpRequest, queryset: QuerySet[McpSnapshot]) -> None:
        refresh_snapshots(self, request, Api.objects.filter(mcp_snapshot__in=queryset))


@admin.register(ToolCallAudit)
class ToolCallAuditAdmin(ReadOnlyAdmin):
    list_display = [
        "at",
        "application",
        "developer",
        "api",
        "method",
        "target",
        "outcome",
        "latency_ms",
    ]
    list_filter = ["outcome", "method", "api"]
    list_select_related = ["application", "developer", "api"]
    search_fields = ["target", "application__name", "developer__username", "arguments_sha256"]
    date_hierarchy = "at"
    show_full_result_count = False
