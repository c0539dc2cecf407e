"""MCP servers published as APIs: the upstream's snapshot, developers' credentials, the audit."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apis.models.catalog import Api


class McpSnapshot(models.Model):
    """What an upstream MCP server offered when last asked: its tools, prompts and resources.

    tools/list is answered from here, so listing never waits on every upstream; a refresh that
    fails keeps the last good lists and records why.
    """

    api = models.OneToOneField(Api, on_delete=models.CASCADE, related_name="mcp_snapshot")
    protocol_version = models.CharField(max_length=10, blank=True)
    tools = models.JSONField(default=list, blank=True)
    prompts = models.JSONField(default=list, blank=True)
    resources = models.JSONField(default=list, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = "MCP snapshot"

    def __str__(self) -> str:
        return f"{self.api.slug}: {len(self.tools)} tools"

    def tool_names(self) -> list[str]:
        """The upstream's tool names, as the plan's checkboxes offer them."""
        return [tool["name"] for tool in self.tools]


class UpstreamCredential(models.Model):
    """A developer's own credential for an MCP server, for one application; sealed at rest."""

    application = models.ForeignKey(
        "keys.Application", on_delete=models.CASCADE, related_name="upstream_credentials"
    )
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="upstream_credentials")
    # Sealed under PORTCULLIS_KEK (keys.kek); set through upstream_credential_set() only.
    sealed = models.TextField(editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["application", "api"], name="one_upstream_credential_per_application"
            )
        ]

    def __str__(self) -> str:
        return f"{self.application} → {self.api.slug}"


class ToolCallAudit(models.Model):
    """One tools/call, prompts/get or resources/read: who, what, how it went, how long."""

    class Outcome(models.TextChoices):
        OK = "ok", "Answered"
        ERROR = "error", "Tool error"
        REFUSED = "refused", "Refused"

    event_id = models.CharField(max_length=32, unique=True, editable=False)
    at = models.DateTimeField(db_index=True)
    application = models.ForeignKey(
        "keys.Application", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    developer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    api = models.ForeignKey(Api, null=True, on_delete=models.SET_NULL, related_name="+")
    method = models.CharField(max_length=20)
    target = models.CharField(max_length=300, help_text="Tool or prompt name, or resource URI")
    arguments_sha256 = models.CharField(max_length=64)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    detail = models.CharField(max_length=300, blank=True)
    latency_ms = models.PositiveIntegerField()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "MCP call audit"
        indexes = [models.Index(fields=["application", "-at"])]

    def __str__(self) -> str:
        return f"{self.method} {self.target} ({self.outcome})"
