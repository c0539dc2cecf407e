"""DRF permission of the endpoints that run the whole catalog (AI providers, prompts, import)."""

from rest_framework.permissions import BasePermission

from apis.selectors import runs_catalog


class RunsCatalog(BasePermission):
    """Staff who run the whole catalog; a provider team's admin with the staff flag does not."""

    message = "This endpoint is for staff who run the catalog."

    def has_permission(self, request, view) -> bool:
        return runs_catalog(request.user)
