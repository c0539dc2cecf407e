"""Models of the catalog app, one module per concern."""

from apis.models.ai import PromptEndpoint, PromptVersion, Provider, ProviderModel
from apis.models.catalog import Api, Plan, Subscription, Tag, rate_parts, validate_rate
from apis.models.mcp import McpSnapshot, ToolCallAudit, UpstreamCredential
from apis.models.targets import UpstreamTarget
from apis.models.usage import UsageEvent, UsageLock, UsageRejected, UsageRollup

__all__ = [
    "Api",
    "McpSnapshot",
    "Plan",
    "PromptEndpoint",
    "PromptVersion",
    "Provider",
    "ProviderModel",
    "Subscription",
    "Tag",
    "ToolCallAudit",
    "UpstreamCredential",
    "UpstreamTarget",
    "UsageEvent",
    "UsageLock",
    "UsageRejected",
    "UsageRollup",
    "rate_parts",
    "validate_rate",
]
