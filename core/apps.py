"""Application config of the shared foundation."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Portcullis core"

    def ready(self) -> None:
        from core import (
            checks,  # noqa: F401 - registers the system checks
            schema,  # noqa: F401 - registers the OpenAPI serializer extension
        )
