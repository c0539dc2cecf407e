"""Reads of applications, each scoped to the teams of who is asking."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from keys.models import Application
from teams.models import Role
from teams.selectors import teams_of


def applications_of(user: User, *, at_least: str = Role.VIEWER) -> QuerySet[Application]:
    """The applications of the teams `user` is in with `at_least` that role, checked now."""
    return Application.objects.filter(team__in=teams_of(user, at_least=at_least)).select_related(
        "team"
    )
