"""Models of the catalog app, one module per concern."""

from apis.models.catalog import Api, Plan, Subscription, Tag, rate_parts, validate_rate
from apis.models.mcp import McpSnapshot, ToolCallAudit, UpstreamCredential
from apis.models.targets import UpstreamTarget

__all__ = [
    "Api",
    "McpSnapshot",
    "Plan",
    "Subscription",
    "Tag",
    "ToolCallAudit",
    "UpstreamCredential",
    "UpstreamTarget",
    "rate_parts",
    "validate_rate",
]
