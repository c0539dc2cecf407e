"""Django admin of the catalog: one module per area, each registering its models."""

from django.contrib import admin

from apis.admin import ai, catalog, mcp, usage

admin.site.site_header = "Portcullis administration"
admin.site.site_title = "Portcullis admin"
admin.site.index_title = "APIs, plans, subscriptions and keys"

__all__ = ["ai", "catalog", "mcp", "usage"]
