"""Models of the catalog app, one module per concern."""

from apis.models.ai import Deployment, PromptEndpoint, PromptVersion, Provider, ProviderModel
from apis.models.catalog import Api, Plan, Subscription, Tag, rate_parts, validate_rate
from apis.models.mcp import McpSnapshot, ToolCallAudit, UpstreamCredential
from apis.models.targets import UpstreamTarget
from apis.models.usage import (
    SpendAlert,
    SpendRollup,
    UsageEvent,
    UsageEventPending,
    UsageLock,
    UsageRejected,
    UsageRollup,
)

__all__ = [
    "Api",
    "Deployment",
    "McpSnapshot",
    "Plan",
    "PromptEndpoint",
    "PromptVersion",
    "Provider",
    "ProviderModel",
    "SpendAlert",
    "SpendRollup",
    "Subscription",
    "Tag",
    "ToolCallAudit",
    "UpstreamCredential",
    "UpstreamTarget",
    "UsageEvent",
    "UsageEventPending",
    "UsageLock",
    "UsageRejected",
    "UsageRollup",
    "rate_parts",
    "validate_rate",
]
