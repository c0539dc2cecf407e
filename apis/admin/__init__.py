"""Django admin of the catalog: one module per area, each registering its models."""

from apis.admin import ai, catalog, mcp, usage

__all__ = ["ai", "catalog", "mcp", "usage"]
