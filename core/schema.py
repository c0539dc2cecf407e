"""OpenAPI generation hooks for the management API's schema."""

from __future__ import annotations

from typing import Any

MANAGEMENT_PREFIX = "/api/v1/"


def management_endpoints_only(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list:
    """Keep the schema to the management API; the gateway, OAuth and MCP have their own specs."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(MANAGEMENT_PREFIX)]
