"""Application config of the developer portal."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Developer portal"

    def ready(self) -> None:
        from portal import password_guard  # noqa: F401 - connects its sign-in signal receivers
