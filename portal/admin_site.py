"""The admin site of Portcullis: Django's admin with the operator's dashboard on its index."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from core.users import signed_in_user
from portal.console import dashboard


class ConsoleAdminSite(admin.AdminSite):
    """The index page leads with the dashboard; the model list follows it."""

    site_header = "Portcullis administration"
    site_title = "Portcullis admin"
    index_title = "Dashboard"

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        context = {"dashboard": dashboard(user=signed_in_user(request)), **(extra_context or {})}
        return super().index(request, context)
