"""Application config of the catalog app."""

from django.apps import AppConfig


class ApisConfig(AppConfig):
    name = "apis"
    verbose_name = "API catalog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from apis.models import Api, Plan, PromptEndpoint, Provider, ProviderModel, Subscription
        from apis.services import catalog_changed

        for model in (Api, Plan, Subscription, Provider, ProviderModel, PromptEndpoint):
            post_save.connect(catalog_changed, sender=model, dispatch_uid=f"gw-{model.__name__}")
            post_delete.connect(catalog_changed, sender=model, dispatch_uid=f"gw-{model.__name__}-")
