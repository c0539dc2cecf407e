"""Reads of teams: which teams a user is in, with which role, checked on every request."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from core.errors import Forbidden, NotFound
from teams.models import Membership, Role, Team


def teams_of(user: User, *, at_least: str = Role.VIEWER) -> QuerySet[Team]:
    """The teams `user` belongs to with `at_least` that role; none for an anonymous caller."""
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(
        memberships__user=user, memberships__role__in=Role.at_least(at_least)
    ).distinct()


def role_in(team: Team, user: User) -> str | None:
    """The role of `user` in `team`, or None when not a member (read now, never cached)."""
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(team=team, user=user).values_list("role", flat=True).first()


def team_checked(team: Team, user: User, *, at_least: str) -> Team:
    """`team` if `user` holds `at_least` that role there; 404 to outsiders, 403 to members."""
    role = role_in(team, user)
    if role is None:
        raise NotFound("No team with this id.")
    if role not in Role.at_least(at_least):
        raise Forbidden(f"This needs the {at_least} role in team '{team.name}'; you are {role}.")
    return team


def members_of(team: Team) -> QuerySet[Membership]:
    """The team's memberships with their users, by user name."""
    return Membership.objects.filter(team=team).select_related("user").order_by("user__username")


def member_emails(teams: QuerySet[Team], *, at_least: str = Role.VIEWER) -> list[str]:
    """The distinct non-empty e-mail addresses of the members of `teams` with `at_least` role."""
    return list(
        Membership.objects.filter(team__in=teams, role__in=Role.at_least(at_least))
        .exclude(user__email="")
        .order_by("user__email")
        .values_list("user__email", flat=True)
        .distinct()
    )
