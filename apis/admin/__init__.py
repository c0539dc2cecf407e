"""Django admin of the catalog: one module per area, each registering its models."""

from apis.admin import ai, catalog, usage

__all__ = ["ai", "catalog", "usage"]
