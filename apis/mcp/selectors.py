"""Reads for MCP: which APIs a calling application may use as tools."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apis.models import Api, PromptEndpoint, Subscription
from lifecycle.states import State

CALLABLE_STATES = (State.PUBLISHED, State.DEPRECATED)


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
