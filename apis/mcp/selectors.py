"""Reads for MCP: whether the caller's application exists, which APIs it may use as tools."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apis.catalog_cache import cached_lookup
from apis.models import Api, McpSnapshot, Plan, PromptEndpoint, Subscription
from keys.models import Application
from lifecycle.states import State

CALLABLE_STATES = (State.PUBLISHED, State.DEPRECATED)


async def application_exists(application_id: int) -> bool:
    """Whether the application a token names still exists; cached until the catalog changes.

    Deleting an application bumps the catalog version (apis.apps), so a warm process learns of
    it within LOOKUP_REFRESH seconds without asking the database on every call.
    """
    return await cached_lookup(
        f"mcp:application:{application_id}",
        lambda: Application.objects.filter(pk=application_id).exists(),
    )


def subscribed_apis(*, application_id: int) -> QuerySet[Api]:
    """The callable APIs this application holds an active subscription to, by slug."""
    active = Subscription.objects.filter(
        application_id=application_id, status=Subscription.Status.ACTIVE
    )
    return Api.objects.filter(pk__in=active.values("api_id"), state__in=CALLABLE_STATES).order_by(
        "slug"
    )


def callable_api_slugs() -> list[str]:
    """Slugs of the APIs clients may call: the scopes an access token can ask for."""
    return list(
        Api.objects.filter(state__in=CALLABLE_STATES)
        .order_by("slug")
        .values_list("slug", flat=True)
    )


def prompt_variables_schema(api: Api) -> dict[str, Any] | None:
    """The JSON Schema of a prompt API's template variables, when it has a prompt endpoint."""
    try:
        schema = api.prompt.variables
    except PromptEndpoint.DoesNotExist:
        return None
    return schema if isinstance(schema, dict) and schema else None


def plans_of(*, application_id: int) -> dict[int, Plan]:
    """The plan of each API the application actively subscribes to, by API id."""
    active = Subscription.objects.filter(
        application_id=application_id, status=Subscription.Status.ACTIVE
    ).select_related("plan")
    return {subscription.api_id: subscription.plan for subscription in active}


def snapshot_of(api: Api) -> McpSnapshot:
    """The last snapshot of an `mcp` API's server; an empty one before the first."""
    return McpSnapshot.objects.filter(api=api).first() or McpSnapshot(api=api)
