"""The project's URLconf plus views that fail on purpose, for the error-rendering tests."""

from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from core.errors import PortcullisError
from portal.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


class Teapot(PortcullisError):
    status = 418
    title = "I'm a teapot"
    type = "https://portcullis.example/problems/teapot"


@api_view(["GET"])
@permission_classes([AllowAny])
def crash(request):
    raise RuntimeError("secret internal detail")


def plain_crash(request):
    raise RuntimeError("secret internal detail")


@api_view(["GET"])
@permission_classes([AllowAny])
def teapot(request):
    raise Teapot("Short and stout.", headers={"X-Spout": "1"}, brewing=True)


urlpatterns = [
    path("api/v1/test-crash/", crash),
    path("portal-crash/", plain_crash),
    path("api/v1/test-teapot/", teapot),
    *urlpatterns,
]
