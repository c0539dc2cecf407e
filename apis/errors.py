"""Errors of the catalog."""

from core.errors import Conflict, InvalidInput


class NotSubscribable(Conflict):
    title = "API not open for subscriptions"


class PlanMismatch(InvalidInput):
    title = "Plan does not belong to this API"


class AlreadySubscribed(Conflict):
    title = "Already subscribed"


class SubscriptionStateError(Conflict):
    title = "Subscription cannot change this way"


class PublishWithoutPlan(Conflict):
    title = "API has no plan"


class InvalidOpenApi(InvalidInput):
    """An OpenAPI document that cannot be read or does not follow the specification.

    `location` (a JSON path such as `$.paths./pets.get`) says where, when a place is known.
    """

    title = "Invalid OpenAPI document"
