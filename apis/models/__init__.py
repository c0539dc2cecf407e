"""Models of the catalog app, one module per concern."""

from apis.models.catalog import Api, Plan, Subscription, Tag, rate_parts, validate_rate

__all__ = ["Api", "Plan", "Subscription", "Tag", "rate_parts", "validate_rate"]
