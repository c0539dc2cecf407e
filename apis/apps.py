"""Application config of the catalog app."""

from django.apps import AppConfig


class ApisConfig(AppConfig):
    name = "apis"
    verbose_name = "API catalog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from apis.ai.models import Deployment, PromptEndpoint, Provider, ProviderModel
        from apis.models import (
            Api,
            McpSnapshot,
            Plan,
            Subscription,
            UpstreamCredential,
            UpstreamTarget,
        )
        from apis.selectors import subscribed_api_slugs
        from apis.services import catalog_changed
        from keys.models import Application
        from keys.scopes import scope_source_register

        # An application's token scopes are the APIs it subscribes to.
        scope_source_register(subscribed_api_slugs)
        register_kinds()

        catalog = (
            Api,
            Plan,
            Subscription,
            Provider,
            ProviderModel,
            PromptEndpoint,
            Deployment,
            UpstreamTarget,
        )
        for model in (*catalog, McpSnapshot, UpstreamCredential):
            post_save.connect(catalog_changed, sender=model, dispatch_uid=f"gw-{model.__name__}")
            post_delete.connect(catalog_changed, sender=model, dispatch_uid=f"gw-{model.__name__}-")
        # A deleted application's tokens must stop opening anything (cached as existing until
        # then), even when it had no subscription whose deletion would have bumped the version.
        post_delete.connect(catalog_changed, sender=Application, dispatch_uid="gw-Application-")
        # Its budget is read with its subscriptions.
        post_save.connect(catalog_changed, sender=Application, dispatch_uid="gw-Application")


def register_kinds() -> None:
    """Each kind of API hands the gateway its forwarder; AI calls settle their reservations."""
    from apis.ai.forward import forward_ai, forward_prompt
    from apis.ai.spend import admitting, holds, settle
    from apis.gateway.forward import forward_rest
    from apis.gateway.kinds import forwarder_register, reserver_register, settler_register
    from apis.mcp.forward import forward_mcp
    from apis.models import Api

    forwarder_register(Api.Kind.REST, forward_rest)
    forwarder_register(Api.Kind.AI, admitting(forward_ai))
    forwarder_register(Api.Kind.PROMPT, admitting(forward_prompt))
    forwarder_register(Api.Kind.MCP, forward_mcp)
    settler_register(settle)
    # A budgeted AI call's limits are counted with its reservation, in one round trip.
    reserver_register(Api.Kind.AI, holds)
    reserver_register(Api.Kind.PROMPT, holds)
