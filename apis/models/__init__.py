"""Models of the catalog app, one module per concern."""

from apis.models.ai import Deployment, PromptEndpoint, PromptVersion, Provider, ProviderModel
from apis.models.catalog import Api, Plan, Subscription, Tag, rate_parts, validate_rate
from apis.models.usage import SpendAlert, UsageEvent, UsageLock, UsageRejected, UsageRollup

__all__ = [
    "Api",
    "Deployment",
    "Plan",
    "PromptEndpoint",
    "PromptVersion",
    "Provider",
    "ProviderModel",
    "SpendAlert",
    "Subscription",
    "Tag",
    "UsageEvent",
    "UsageLock",
    "UsageRejected",
    "UsageRollup",
    "rate_parts",
    "validate_rate",
]
