"""Developers' own upstream credentials for MCP servers: stored sealed, read by the gateway."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from apis.catalog_cache import cached_lookup
from apis.models import Api, UpstreamCredential
from apis.models.catalog import UPSTREAM_CREDENTIAL
from core.errors import InvalidInput
from keys.kek import seal
from keys.models import Application
from teams.models import Role
from teams.selectors import team_checked

CREDENTIAL_MAX_LENGTH = 4096


@transaction.atomic
def upstream_credential_set(
    *, application: Application, api: Api, value: str, actor: User | None = None
) -> None:
    """Store the application's credential for the API's upstream, sealed; "" removes it.
    Credentials are the business of the team's admins and owners."""
    if actor is not None:
        team_checked(application.team, actor, at_least=Role.ADMIN)
    if not api.credential_per_application:
        raise InvalidInput(f"'{api.slug}' does not take a credential per application.")
    if not value:
        UpstreamCredential.objects.filter(application=application, api=api).delete()
        return
    UpstreamCredential.objects.update_or_create(
        application=application,
        api=api,
        defaults={
            "sealed": seal(value[:CREDENTIAL_MAX_LENGTH].encode(), purpose=UPSTREAM_CREDENTIAL)
        },
    )


def credential_apis_of(application: Application) -> list[tuple[Api, bool]]:
    """The subscribed APIs that want this application's own credential, and whether it is set."""
    stored = set(application.upstream_credentials.values_list("api_id", flat=True))
    apis = Api.objects.filter(
        credential_per_application=True,
        subscriptions__application=application,
        subscriptions__status__in=("pending", "active"),
    ).order_by("slug")
    return [(api, api.pk in stored) for api in apis.distinct()]


async def sealed_credential_of(*, application_id: int, api_id: int) -> str:
    """The application's sealed credential for the API ("" when none); cached until a save."""
    return await cached_lookup(
        f"mcp:credential:{application_id}:{api_id}",
        lambda: (
            UpstreamCredential.objects.filter(application_id=application_id, api_id=api_id)
            .values_list("sealed", flat=True)
            .first()
            or ""
        ),
    )
