"""Application config of the developer portal."""

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    default = True
    name = "portal"
    verbose_name = "Developer portal"

    def ready(self) -> None:
        from django.urls import reverse

        from apis.models.catalog import api_page_register
        from portal import password_guard  # noqa: F401 - connects its sign-in signal receivers

        # The deprecation Link and admin's "view on site" point to the API's portal page.
        api_page_register(lambda slug: reverse("portal:api-detail", args=[slug]))


class ConsoleAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, with the operator's console (portal.admin_site) as `admin.site`."""

    default = False
    default_site = "portal.admin_site.ConsoleAdminSite"
