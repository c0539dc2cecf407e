"""The management REST API of applications: create, list, rotate the secret, delete."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.serializers import StrictFieldsMixin
from keys import services
from keys.models import Application


class ApplicationSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """An application without its secret."""

    class Meta:
        model = Application
        fields = ["id", "name", "client_id", "created_at", "secret_rotated_at"]
        read_only_fields = ["id", "client_id", "created_at", "secret_rotated_at"]


class ApplicationWithSecretSerializer(ApplicationSerializer):
    """An application with its secret in clear: only in the answer that created it."""

    client_secret = serializers.CharField(read_only=True)

    class Meta(ApplicationSerializer.Meta):
        fields = [*ApplicationSerializer.Meta.fields, "client_secret"]


class ApplicationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The signed-in developer's own applications."""

    serializer_class = ApplicationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Application.objects.none()
        return Application.objects.filter(owner=self.request.user)

    @extend_schema(responses={201: ApplicationWithSecretSerializer})
    def create(self, request: Request) -> Response:
        """A new application; its secret is in this answer only."""
        form = ApplicationSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        application, secret = services.application_create(
            owner=request.user, name=form.validated_data["name"]
        )
        return Response(self._with_secret(application, secret), status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Application) -> None:
        services.application_delete(application=instance)

    @extend_schema(request=None, responses=ApplicationWithSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        """A new secret, shown once; the old one stops working."""
        application = self.get_object()
        secret = services.application_rotate_secret(application=application)
        return Response(self._with_secret(application, secret))

    def _with_secret(self, application: Application, secret: str) -> dict:
        application.client_secret = secret
        return ApplicationWithSecretSerializer(application).data
