"""MCP resources: each API's OpenAPI document, and the resources of upstream MCP servers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from apis.catalog_cache import cached_lookup
from apis.mcp.selectors import snapshot_of, subscribed_apis
from apis.models import Api

URI_PREFIX = "portcullis://apis/"
URI_SUFFIX = "/openapi.json"
# An upstream server's resource, under its API's slug: portcullis://mcp/<slug>/<escaped uri>.
UPSTREAM_PREFIX = "portcullis://mcp/"
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


@dataclass(frozen=True)
class UpstreamResource:
    """A resource of an `mcp` API's server, renamed under the API so that servers never clash."""

    slug: str
    upstream_uri: str
    entry: dict[str, Any]

    @property
    def uri(self) -> str:
        return f"{UPSTREAM_PREFIX}{self.slug}/{quote(self.upstream_uri, safe='')}"

    def definition(self) -> dict[str, Any]:
        """The resource as resources/list shows it."""
        return {**self.entry, "uri": self.uri}


async def upstream_resources_for(application_id: int) -> list[UpstreamResource]:
    """The resources of the application's subscribed MCP servers; cached like its tools."""
    return await cached_lookup(
        f"mcp:upstream-resources:{application_id}", lambda: _upstream(application_id)
    )


async def upstream_resource_at(application_id: int, uri: str) -> UpstreamResource | None:
    """The application's upstream resource at the gateway URI `uri`, or None."""
    if not uri.startswith(UPSTREAM_PREFIX):
        return None
    found = await upstream_resources_for(application_id)
    return next((resource for resource in found if resource.uri == uri), None)


def _upstream(application_id: int) -> list[UpstreamResource]:
    return [
        UpstreamResource(slug=api.slug, upstream_uri=entry["uri"], entry=entry)
        for api in subscribed_apis(application_id=application_id)
        if api.kind == Api.Kind.MCP
        for entry in snapshot_of(api).resources
    ]
