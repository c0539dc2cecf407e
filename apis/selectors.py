"""Reads on the catalog, each scoped to who is asking."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q, QuerySet

from apis.models import Api, Subscription
from lifecycle.states import State

VISIBLE_STATES = (State.PUBLISHED, State.DEPRECATED)


def apis_visible_to(user: AbstractBaseUser | None) -> QuerySet[Api]:
    """Staff see every API; everyone else the published and deprecated ones."""
    apis = Api.objects.prefetch_related("tags", "plans")
    if user is not None and user.is_staff:
        return apis
    return apis.filter(state__in=VISIBLE_STATES)


def apis_search(
    apis: QuerySet[Api], *, q: str = "", tag: str = "", state: str = ""
) -> QuerySet[Api]:
    """Narrow a catalog by free text, tag and state."""
    if q:
        apis = apis.filter(
            Q(name__icontains=q) | Q(description__icontains=q) | Q(slug__icontains=q)
        )
    if tag:
        apis = apis.filter(tags__name=tag.lower())
    if state:
        apis = apis.filter(state=state)
    return apis.distinct()


def subscriptions_visible_to(user: AbstractBaseUser) -> QuerySet[Subscription]:
    """Staff see all subscriptions; a developer those of their own applications."""
    subscriptions = Subscription.objects.select_related("application", "api", "plan")
    if user.is_staff:
        return subscriptions
    return subscriptions.filter(application__owner=user)
