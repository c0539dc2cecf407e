"""MCP resources: the OpenAPI document of each API the caller may use, for agents to read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apis.gateway.lookups import cached_lookup
from apis.mcp.selectors import subscribed_apis

URI_PREFIX = "portcullis://apis/"
URI_SUFFIX = "/openapi.json"
MIME_TYPE = "application/json"


@dataclass(frozen=True)
class Resource:
    """One API's OpenAPI document, as resources/list shows it and resources/read returns it."""

    slug: str
    title: str
    document: dict[str, Any]

    @property
    def uri(self) -> str:
        return f"{URI_PREFIX}{self.slug}{URI_SUFFIX}"

    def definition(self) -> dict[str, Any]:
        """The resource as resources/list shows it."""
        return {
            "uri": self.uri,
            "name": f"{self.slug}-openapi",
            "title": f"{self.title}: OpenAPI document",
            "description": f"How to call '{self.slug}': its operations, parameters and schemas.",
            "mimeType": MIME_TYPE,
        }


async def resources_for(application_id: int) -> list[Resource]:
    """The documents of the application's subscribed APIs; cached like its tools."""
    return await cached_lookup(f"mcp:resources:{application_id}", lambda: _build(application_id))


async def resource_at(application_id: int, uri: str) -> Resource | None:
    """The application's resource at `uri`, or None (unknown, or not subscribed)."""
    return next((r for r in await resources_for(application_id) if r.uri == uri), None)


def _build(application_id: int) -> list[Resource]:
    return [
        Resource(slug=api.slug, title=api.name, document=api.openapi)
        for api in subscribed_apis(application_id=application_id)
        if isinstance(api.openapi, dict) and api.openapi
    ]
