"""Application config of usage accounting."""

from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "apis.usage"
    label = "usage"
    verbose_name = "Usage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from apis.usage.histogram import register_sqlite_functions

        connection_created.connect(register_sqlite_functions, dispatch_uid="usage-histogram")
