"""Django admin of the catalog: one module per area, each registering its models."""

from apis.admin import catalog, mcp

__all__ = ["catalog", "mcp"]
