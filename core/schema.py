"""OpenAPI generation hooks for the management API's schema."""

from __future__ import annotations

from typing import Any

MANAGEMENT_PREFIX = "/api/v1/"
# Help texts of fields only staff receive start with this; the schema marks them optional.
STAFF_ONLY = "Staff only."


def management_endpoints_only(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list:
    """Keep the schema to the management API; the gateway, OAuth and MCP have their own specs."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(MANAGEMENT_PREFIX)]


def staff_only_fields_optional(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Fields only staff receive are not required in any response component."""
    for component in result.get("components", {}).get("schemas", {}).values():
        properties = component.get("properties", {})
        staff_only = {
            name
            for name, field in properties.items()
            if str(field.get("description", "")).startswith(STAFF_ONLY)
        }
        if "required" in component:
            component["required"] = [n for n in component["required"] if n not in staff_only]
    return result
