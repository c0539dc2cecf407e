"""The management REST API of teams: the caller's teams, their members and invitations."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.serializers import StrictFieldsMixin
from core.users import signed_in_user
from teams import selectors, services
from teams.models import INVITED_ROLES, Invitation, Membership, Role, Team


class TeamSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A team with the caller's role in it."""

    role = serializers.SerializerMethodField()
    personal = serializers.BooleanField(source="is_personal", read_only=True)

    class Meta:
        model = Team
        fields = ["id", "name", "role", "personal", "created_at"]
        read_only_fields = ["id", "created_at"]

    def get_role(self, team: Team) -> str | None:
        return selectors.role_in(team, self.context["request"].user)


class MemberSerializer(serializers.ModelSerializer):
    """One member: user id, user name, role."""

    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "username", "role"]
        read_only_fields = ["user", "username"]


class RoleSerializer(StrictFieldsMixin, serializers.Serializer):
    """A new role for a member."""

    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """An invitation: to whom, with which role, until when; the link only when it is made."""

    role = serializers.ChoiceField(choices=INVITED_ROLES)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "created_at", "expires_at", "accepted_at"]
        read_only_fields = ["id", "created_at", "expires_at", "accepted_at"]


class InvitationLinkSerializer(InvitationSerializer):
    """A new invitation with the link that accepts it, shown in this answer only."""

    accept_url = serializers.URLField(read_only=True)

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "accept_url"]


class TeamViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's teams; members and invitations of each."""

    serializer_class = TeamSerializer

    def get_queryset(self) -> QuerySet[Team]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Team.objects.none()
        return selectors.teams_of(signed_in_user(self.request))

    def perform_create(self, serializer) -> None:
        serializer.instance = services.team_create(
            name=serializer.validated_data["name"], owner=signed_in_user(self.request)
        )

    @extend_schema(responses=MemberSerializer(many=True))
    @action(detail=True, methods=["get"], serializer_class=MemberSerializer)
    def members(self, request: Request, pk: str) -> Response:
        """The team's members with their roles (every member may read them)."""
        members = selectors.members_of(self.get_object())
        page = self.paginate_queryset(members)
        return self.get_paginated_response(MemberSerializer(page, many=True).data)

    @extend_schema(request=RoleSerializer, responses=MemberSerializer)
    @action(
        detail=True,
        methods=["patch", "delete"],
        url_path=r"members/(?P<user_id>\d+)",
        serializer_class=RoleSerializer,
    )
    def member(self, request: Request, pk: str, user_id: str) -> Response:
        """PATCH changes a member's role (owners, admins); DELETE removes them (owners, admins)
        or, for themselves, leaves; the last owner cannot leave."""
        team = self.get_object()
        user = get_object_or_404(get_user_model(), pk=user_id)
        if request.method == "DELETE":
            services.member_remove(team=team, user=user, actor=signed_in_user(request))
            return Response(status=status.HTTP_204_NO_CONTENT)
        form = RoleSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        if "role" not in form.validated_data:  # nothing to change: the member as they are
            return Response(
                MemberSerializer(get_object_or_404(selectors.members_of(team), user=user)).data
            )
        membership = services.member_set_role(
            team=team, user=user, role=form.validated_data["role"], actor=signed_in_user(request)
        )
        return Response(MemberSerializer(membership).data)

    @extend_schema(methods=["GET"], responses=InvitationSerializer(many=True))
    @extend_schema(
        methods=["POST"], request=InvitationSerializer, responses={201: InvitationLinkSerializer}
    )
    @action(detail=True, methods=["get", "post"], serializer_class=InvitationSerializer)
    def invitations(self, request: Request, pk: str) -> Response:
        """The team's invitations (owners, admins); POST invites by e-mail, answering the link."""
        team = selectors.team_checked(
            self.get_object(), signed_in_user(request), at_least=Role.ADMIN
        )
        if request.method == "GET":
            page = self.paginate_queryset(team.invitations.all())
            return self.get_paginated_response(InvitationSerializer(page, many=True).data)
        form = InvitationSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        invitation, url = services.invitation_create(
            team=team,
            invited_by=signed_in_user(request),
            link=lambda token: request.build_absolute_uri(
                reverse("portal:invitation", args=[token])
            ),
            **form.validated_data,
        )
        body = {**InvitationSerializer(invitation).data, "accept_url": url}
        return Response(body, status=status.HTTP_201_CREATED)
