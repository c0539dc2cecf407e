"""DRF permission policies used across the management API."""

from rest_framework.permissions import SAFE_METHODS, BasePermission


class IsStaff(BasePermission):
    """Staff only."""

    message = "This endpoint is for staff."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_staff)


class IsStaffOrReadOnly(BasePermission):
    """Anyone signed in reads; staff write."""

    message = "Only staff can change this."

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS or bool(request.user and request.user.is_staff)
