"""Reads on the catalog, each scoped to who is asking."""

from __future__ import annotations

import copy
from datetime import datetime

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from apis.catalog_cache import cached_lookup
from apis.models import Api, Subscription
from lifecycle.selectors import history_of
from lifecycle.states import State
from teams.models import Role, Team
from teams.selectors import teams_of

VISIBLE_STATES = (State.PUBLISHED, State.DEPRECATED)
SLUG_MAX_LENGTH = Api._meta.get_field("slug").max_length


def runs_catalog(user: User | AnonymousUser | None) -> bool:
    """Staff who run the whole catalog: staff holding the permission to change any API.

    Superusers hold it; a provider team's admin given the staff flag only to use Django admin
    does not, and sees their own team's APIs there and here alike.
    """
    return bool(
        user is not None and user.is_active and user.is_staff and user.has_perm("apis.change_api")
    )


def apis_visible_to(user: User | AnonymousUser | None) -> QuerySet[Api]:
    """Staff see every API; everyone else the published and deprecated ones and their teams'."""
    apis = Api.objects.prefetch_related("tags", "plans")
    if runs_catalog(user):
        return apis
    if user is None or not user.is_authenticated:
        return apis.filter(state__in=VISIBLE_STATES)
    return apis.filter(Q(state__in=VISIBLE_STATES) | Q(team__in=teams_of(user))).distinct()


def apis_managed_by(user: User) -> QuerySet[Api]:
    """The APIs `user` may change: staff all, a provider team's owners and admins their team's."""
    if runs_catalog(user):
        return Api.objects.all()
    return Api.objects.filter(team__in=teams_of(user, at_least=Role.ADMIN))


def api_managed_by(api: Api, user: User) -> bool:
    """Whether `user` may change `api`, its plans, lifecycle and subscriptions (read now)."""
    return apis_managed_by(user).filter(pk=api.pk).exists()


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


def api_openapi_for_developers(api: Api, *, gateway_url: str) -> dict | None:
    """The API's OpenAPI document as developers get it: its servers are the gateway.

    Servers named in the document, at any level, are the backend's addresses, which are for
    staff; developers reach the API through the gateway only.
    """
    if not isinstance(api.openapi, dict):
        return api.openapi
    return openapi_served_by(api.openapi, gateway_url=gateway_url)


def openapi_served_by(openapi: dict, *, gateway_url: str) -> dict:
    """A copy of an OpenAPI document whose only server is `gateway_url`, at every level."""
    document = copy.deepcopy(openapi)
    document["servers"] = [{"url": gateway_url}]
    for item in (document.get("paths") or {}).values():
        if isinstance(item, dict):
            item.pop("servers", None)
            for operation in item.values():
                if isinstance(operation, dict):
                    operation.pop("servers", None)
    return document


def subscriptions_visible_to(user: User) -> QuerySet[Subscription]:
    """Staff see all subscriptions; a member those of their teams' applications, and a provider
    team's owners and admins those to their team's APIs."""
    subscriptions = Subscription.objects.select_related("application__team", "api", "plan")
    if runs_catalog(user):
        return subscriptions
    return subscriptions.filter(
        Q(application__team__in=teams_of(user)) | Q(api__in=apis_managed_by(user))
    )


def subscriptions_of_team(team: Team) -> QuerySet[Subscription]:
    """The subscriptions of one team's applications."""
    return Subscription.objects.select_related("application", "api", "plan").filter(
        application__team=team
    )


async def gateway_api(slug: str) -> Api | None:
    """The API at `slug` as the gateway sees it, with `deprecated_at`; cached until a save.

    A slug the catalog does not hold is answered from the cached set of slugs: asking for
    unknown ones, however many, stores nothing anywhere.
    """
    if len(slug) > SLUG_MAX_LENGTH or slug not in await cached_lookup("api-slugs", _api_slugs):
        return None
    return await cached_lookup(f"api:{slug}", lambda: _api_for_gateway(slug))


def _api_slugs() -> frozenset[str]:
    return frozenset(Api.objects.values_list("slug", flat=True))


def _api_for_gateway(slug: str) -> Api | None:
    api = Api.objects.filter(slug=slug).first()
    if api is not None:
        api.deprecated_at = _deprecated_at(api)
        api.listed_targets = list(api.targets.all())
    return api


def _deprecated_at(api: Api) -> datetime | None:
    if api.state != State.DEPRECATED:
        return None
    # The move into deprecated, not a later change recorded while deprecated.
    moves = history_of(api).filter(to_state=State.DEPRECATED).exclude(from_state=State.DEPRECATED)
    event = moves.first()
    return event.at if event else api.updated_at


async def gateway_subscription(*, application_id: int, api_id: int) -> Subscription | None:
    """The active subscription of an application to an API, with its plan; cached until a save."""
    return await cached_lookup(
        f"sub:{application_id}:{api_id}",
        lambda: (
            Subscription.objects.select_related("plan", "application")
            .filter(application_id=application_id, api_id=api_id, status=Subscription.Status.ACTIVE)
            .first()
        ),
    )


def subscribed_api_slugs(*, application_id: int) -> list[str]:
    """Slugs of the APIs an application actively subscribes to: its possible token scopes."""
    return list(
        Subscription.objects.filter(
            application_id=application_id, status=Subscription.Status.ACTIVE
        )
        .order_by()
        .values_list("api__slug", flat=True)
    )
