"""Writes of teams: creating them, personal teams, members' roles, leaving and invitations."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, Forbidden, NotFound
from teams.conf import teams_settings
from teams.models import Invitation, Membership, Role, Team
from teams.selectors import role_in, team_checked

INVITATION_PREFIX = "pct_"


def personal_team_ensure(user: User) -> Team:
    """The user's personal team, created with the user as its owner on first need."""
    team = Team.objects.filter(personal_of=user).first()
    if team is not None:
        return team
    try:
        # Two first requests of a new user may race here; the one-to-one key lets one win.
        with transaction.atomic():
            team = Team.objects.create(name=user.get_username(), personal_of=user)
            Membership.objects.create(team=team, user=user, role=Role.OWNER)
    except IntegrityError:
        return Team.objects.get(personal_of=user)
    return team


def personal_team_for_new_user(
    sender: type, instance: User, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """Receiver of a user's first save: their personal team (not while loading fixtures)."""
    if created and not raw:
        personal_team_ensure(instance)


@transaction.atomic
def team_create(*, name: str, owner: User) -> Team:
    """A new team with `owner` as its first owner."""
    _check_user_has_room(owner)
    team = Team(name=name)
    team.full_clean()
    team.save()
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    return team


def _check_user_has_room(user: User) -> None:
    # The user's row is the lock: two joins at once cannot both pass the count.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    limit = teams_settings.MAX_TEAMS_PER_USER
    if Membership.objects.filter(user=user).count() >= limit:
        raise Conflict(f"You are in {limit} teams, the most one account may join.")


@transaction.atomic
def member_remove(*, team: Team, user: User, actor: User) -> None:
    """Take `user` out of `team` (themselves leaving, or an owner or admin removing them).

    Access ends with the row: every read of a team's objects checks membership anew.
    """
    membership = _locked_membership(team, user)
    if actor.pk != user.pk:
        team_checked(team, actor, at_least=Role.ADMIN)
        if membership.role == Role.OWNER and role_in(team, actor) != Role.OWNER:
            raise Forbidden("Only an owner can remove another owner.")
    if membership.role == Role.OWNER:
        _keep_an_owner(team, leaving=membership)
    membership.delete()


@transaction.atomic
def member_set_role(*, team: Team, user: User, role: str, actor: User) -> Membership:
    """Change a member's role; only owners grant or take away the owner role."""
    team_checked(team, actor, at_least=Role.ADMIN)
    membership = _locked_membership(team, user)
    if Role.OWNER in (role, membership.role) and role_in(team, actor) != Role.OWNER:
        raise Forbidden("Only an owner can make or unmake owners.")
    if membership.role == Role.OWNER and role != Role.OWNER:
        _keep_an_owner(team, leaving=membership)
    membership.role = role
    membership.full_clean()
    membership.save(update_fields=["role"])
    return membership


def _locked_membership(team: Team, user: User) -> Membership:
    # The team's memberships are locked together: two owners leaving at once must not both see
    # the other one staying.
    rows = list(Membership.objects.select_for_update().filter(team=team).order_by("pk"))
    for membership in rows:
        if membership.user_id == user.pk:
            return membership
    raise NotFound("No such member in this team.")


def _keep_an_owner(team: Team, *, leaving: Membership) -> None:
    others = Membership.objects.filter(team=team, role=Role.OWNER).exclude(pk=leaving.pk)
    if not others.exists():
        raise Conflict(
            f"You are the last owner of '{team.name}': make another member an owner first."
        )


def invitation_digest(token: str) -> str:
    """The stored form of an invitation token (256 random bits: a plain digest suffices)."""
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(
    *,
    team: Team,
    email: str,
    role: str,
    invited_by: User,
    link: Callable[[str], str],
    now: datetime | None = None,
) -> tuple[Invitation, str]:
    """An invitation and its link (`link(token)`), e-mailed to `email` once committed."""
    team_checked(team, invited_by, at_least=Role.ADMIN)
    if team.is_personal:
        raise Conflict("A personal team is for its person alone: create a team to share.")
    if role == Role.OWNER:
        raise Forbidden("Invite as admin, developer or viewer; make owners among members.")
    _check_room_for_one_more(team)
    token = INVITATION_PREFIX + secrets.token_urlsafe(32)
    invitation = Invitation(
        team=team,
        email=email,
        role=role,
        token_digest=invitation_digest(token),
        invited_by=invited_by,
        expires_at=(now or timezone.now()) + timedelta(days=teams_settings.INVITATION_DAYS),
    )
    invitation.full_clean()
    invitation.save()
    url = link(token)
    transaction.on_commit(lambda: _send_invitation(invitation, url))
    return invitation, url


def _check_room_for_one_more(team: Team) -> None:
    limit = teams_settings.MAX_MEMBERS_PER_TEAM
    if Membership.objects.filter(team=team).count() >= limit:
        raise Conflict(f"'{team.name}' has {limit} members, the most one team may hold.")


def _send_invitation(invitation: Invitation, url: str) -> None:
    inviter = invitation.invited_by.get_username() if invitation.invited_by else "Someone"
    days = teams_settings.INVITATION_DAYS
    send_mail(
        f"Join {invitation.team.name} on Portcullis",
        f"{inviter} invites you to the team '{invitation.team.name}' as {invitation.role}.\n"
        f"Sign in (or sign up) and accept here: {url}\n"
        f"The link works once and expires in {days} days.\n",
        settings.DEFAULT_FROM_EMAIL,
        [invitation.email],
    )


def invitation_open(token: str, *, now: datetime | None = None) -> Invitation:
    """The invitation of this token while it can be accepted; 404 otherwise, whatever the cause."""
    invitation = (
        Invitation.objects.select_related("team").filter(token_digest=invitation_digest(token))
    ).first()
    if invitation is None or not invitation.is_open(now):
        raise NotFound("This invitation does not exist, was used already or has expired.")
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: User, now: datetime | None = None) -> Membership:
    """Join the invitation's team with its role; the link works once and until it expires."""
    now = now or timezone.now()
    found = invitation_open(token, now=now)
    # Locked, then checked again: two acceptances of one link at once, only one joins.
    invitation = Invitation.objects.select_for_update().get(pk=found.pk)
    if not invitation.is_open(now):
        raise NotFound("This invitation does not exist, was used already or has expired.")
    if role_in(invitation.team, user) is not None:
        raise Conflict(f"You are a member of '{invitation.team.name}' already.")
    _check_user_has_room(user)
    _check_room_for_one_more(invitation.team)
    invitation.accepted_at = now
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return Membership.objects.create(team=invitation.team, user=user, role=invitation.role)
