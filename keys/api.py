"""The management REST API of applications: create, list, rotate the secret, delete."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.serializers import StrictFieldsMixin
from core.users import signed_in_user
from keys import selectors, services
from keys.models import Application
from teams.selectors import teams_of
from teams.services import personal_team_ensure


class MemberTeamField(serializers.PrimaryKeyRelatedField):
    """A team by id, among the caller's own: others' answer as if they did not exist."""

    def get_queryset(self):
        return teams_of(self.context["request"].user)


class ApplicationSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """An application without its secret; `team` left out on creation: the personal team."""

    team = MemberTeamField(
        required=False, error_messages={"does_not_exist": "You are in no team with this id."}
    )

    class Meta:
        model = Application
        fields = ["id", "name", "team", "client_id", "created_at", "secret_rotated_at"]
        read_only_fields = ["id", "client_id", "created_at", "secret_rotated_at"]
        # One name per team is the service's rule (409), not a validator's generic 400.
        validators: list = []


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
    """The applications of the caller's teams (`?team=<id>`: of one of them)."""

    serializer_class = ApplicationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Application.objects.none()
        applications = selectors.applications_of(signed_in_user(self.request))
        team = self.request.query_params.get("team", "")
        return applications.filter(team=int(team)) if team.isdecimal() else applications

    @extend_schema(responses={201: ApplicationWithSecretSerializer})
    def create(self, request: Request) -> Response:
        """A new application of one of your teams; its secret is in this answer only."""
        form = ApplicationSerializer(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        user = signed_in_user(request)
        team = form.validated_data.get("team") or personal_team_ensure(user)
        application, secret = services.application_create(
            team=team, name=form.validated_data["name"], actor=user
        )
        return Response(self._with_secret(application, secret), status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Application) -> None:
        services.application_delete(application=instance, actor=signed_in_user(self.request))

    @extend_schema(request=None, responses=ApplicationWithSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        """A new secret, shown once; the old one stops working."""
        application = self.get_object()
        secret = services.application_rotate_secret(
            application=application, actor=signed_in_user(request)
        )
        return Response(self._with_secret(application, secret))

    def _with_secret(self, application: Application, secret: str) -> dict:
        return {**ApplicationSerializer(application).data, "client_secret": secret}
