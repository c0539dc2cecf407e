"""The team the portal shows: chosen in the session, checked against the memberships anew on
every request, so a member removed from a team stops seeing it at their next page."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from core.users import signed_in_user
from teams.models import Membership, Role
from teams.services import personal_team_ensure

SESSION_KEY = "portal_team"
# Where the request keeps its membership once looked up, for the rest of that request.
REQUEST_ATTRIBUTE = "_portal_membership"


def current_membership(request: HttpRequest) -> Membership:
    """The signed-in user's membership of the chosen team, else of their personal team."""
    cached = getattr(request, REQUEST_ATTRIBUTE, None)
    if cached is not None:
        return cached
    user = signed_in_user(request)
    memberships = Membership.objects.select_related("team").filter(user=user)
    chosen = request.session.get(SESSION_KEY)
    membership = memberships.filter(team_id=chosen).first() if chosen else None
    if membership is None:
        membership = memberships.get(team=personal_team_ensure(user))
    setattr(request, REQUEST_ATTRIBUTE, membership)
    return membership


def team_choose(request: HttpRequest, membership: Membership) -> None:
    """Show `membership`'s team from now on."""
    request.session[SESSION_KEY] = membership.team_id
    setattr(request, REQUEST_ATTRIBUTE, membership)


def may(membership: Membership, role: str) -> bool:
    """Whether the membership holds `role` or one above it."""
    return membership.role in Role.at_least(role)


def team_context(request: HttpRequest) -> dict[str, object]:
    """Template context: the current team and role, the user's teams for the switcher."""
    user = getattr(request, "user", None)  # absent when an error page is drawn before auth
    if user is None or not user.is_authenticated:
        return {}
    return {
        "team_membership": SimpleLazyObject(lambda: current_membership(request)),
        "team_memberships": SimpleLazyObject(
            lambda: list(
                Membership.objects.select_related("team").filter(user=user).order_by("team__name")
            )
        ),
        "team_can_develop": SimpleLazyObject(
            lambda: may(current_membership(request), Role.DEVELOPER)
        ),
        "team_can_admin": SimpleLazyObject(lambda: may(current_membership(request), Role.ADMIN)),
    }
