"""Celery tasks of the catalog app: thin wrappers over services, scheduled by beat."""

from __future__ import annotations

from celery import shared_task

from apis.gateway import probes


@shared_task(name="apis.mcp_snapshots_refresh")
def mcp_snapshots_refresh() -> int:
    """Ask every MCP server for its tools, prompts and resources again."""
    from apis.mcp.snapshots import snapshots_refresh

    return snapshots_refresh()


@shared_task(name="apis.mcp_audit_ingest")
def mcp_audit_ingest() -> int:
    """Move audited MCP calls from the shared queue into the database."""
    from apis.mcp.audit import audit_ingest

    return audit_ingest()


@shared_task(name="apis.targets_probe")
def targets_probe() -> dict[str, int]:
    """Probe the health path of every upstream target that has one."""
    return probes.targets_probe()
