"""The portal's team pages: the switcher, members, invitations, and the e-mailed join link."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import PortcullisError
from core.parsers import JSONParser
from core.users import signed_in_user
from portal.current_team import current_membership, may, team_choose
from portal.forms import InvitationForm, TeamForm
from teams.models import Membership, Role
from teams.selectors import members_of
from teams.services import invitation_accept, invitation_create, invitation_open, member_remove
from teams.services import team_create as create_team


@login_required
@require_http_methods(["GET", "POST"])
def teams(request: HttpRequest) -> HttpResponse:
    """The current team's members and invitations; POST creates a team and switches to it."""
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = signed_in_user(request)
        try:
            team = create_team(name=form.cleaned_data["name"], owner=user)
        except PortcullisError as exc:
            form.add_error("name", exc.detail)
        else:
            team_choose(request, Membership.objects.get(team=team, user=user))
            messages.success(request, f"Team '{team.name}' created; you are its owner.")
            return redirect("portal:teams")
    return _teams_page(request, team_form=form, status=400 if form.errors else 200)


def _teams_page(
    request: HttpRequest, *, team_form=None, invitation_form=None, status: int = 200
) -> HttpResponse:
    membership = current_membership(request)
    context = {
        "members": members_of(membership.team),
        "invitations": membership.team.invitations.filter(accepted_at__isnull=True)
        if may(membership, Role.ADMIN)
        else [],
        "team_form": team_form or TeamForm(),
        "invitation_form": invitation_form or InvitationForm(),
    }
    return render(request, "portal/teams.html", context, status=status)


@login_required
@require_POST
def team_switch(request: HttpRequest) -> HttpResponse:
    """Show another of the user's teams from now on; back to the page the switch was made on."""
    membership = get_object_or_404(
        Membership.objects.select_related("team"),
        user=request.user,
        team_id=request.POST.get("team", "") if request.POST.get("team", "").isdecimal() else 0,
    )
    team_choose(request, membership)
    messages.success(request, f"Now showing team '{membership.team.name}'.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("portal:applications")
    return redirect(back)


@login_required
@require_POST
def team_invite(request: HttpRequest) -> HttpResponse:
    """Invite someone by e-mail to the current team (its owners and admins)."""
    membership = current_membership(request)
    form = InvitationForm(request.POST)
    if not form.is_valid():
        return _teams_page(request, invitation_form=form, status=400)
    try:
        invitation_create(
            team=membership.team,
            invited_by=signed_in_user(request),
            link=lambda token: request.build_absolute_uri(
                reverse("portal:invitation", args=[token])
            ),
            **form.cleaned_data,
        )
    except PortcullisError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.detail) from exc
        form.add_error(None, exc.detail)
        return _teams_page(request, invitation_form=form, status=exc.status)
    messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
    return redirect("portal:teams")


@login_required
@require_POST
def team_member_remove(request: HttpRequest, user_id: int) -> HttpResponse:
    """Remove a member from the current team (owners, admins), or leave it (yourself)."""
    membership = current_membership(request)
    user = get_object_or_404(get_user_model(), pk=user_id)
    try:
        member_remove(team=membership.team, user=user, actor=signed_in_user(request))
    except PortcullisError as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.detail) from exc
        messages.error(request, exc.detail)
        return redirect("portal:teams")
    if user.pk == request.user.pk:
        messages.success(request, f"You left '{membership.team.name}'.")
        return redirect("portal:applications")
    messages.success(request, f"{user.get_username()} is no longer in '{membership.team.name}'.")
    return redirect("portal:teams")


class InvitationView(APIView):
    """`/teams/join/<token>/`, the link an invitation e-mails.

    A browser gets a page with an Accept button; a script signed in to the management API
    POSTs to the same address and gets JSON. Either way the link works once, until it expires.
    """

    renderer_classes = [JSONRenderer, TemplateHTMLRenderer]
    parser_classes = [JSONParser, FormParser]  # the page's Accept button posts a form
    permission_classes = [AllowAny]
    template_name = "portal/invitation.html"

    def get(self, request: Request, token: str) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        invitation = invitation_open(token)
        return Response({"team": invitation.team.name, "role": invitation.role, "token": token})

    def post(self, request: Request, token: str) -> Response:
        if not request.user.is_authenticated:
            self.permission_denied(request)
        membership = invitation_accept(token=token, user=request.user)
        if self._in_browser():
            team_choose(request._request, membership)
        body = {"team": membership.team.name, "team_id": membership.team_id}
        return Response({**body, "role": membership.role, "joined": True})

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if self._in_browser():
            # The page explains the refusal in the portal's own layout, not as JSON.
            response.exception = False
            response.content_type = None
            response.template_name = self.template_name
        return response

    def _in_browser(self) -> bool:
        return isinstance(getattr(self.request, "accepted_renderer", None), TemplateHTMLRenderer)
