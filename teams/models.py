"""Teams, their members with a role each, and invitations to join them."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    """What a member may do, each role including the ones below it."""

    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin (members and credentials)"
    DEVELOPER = "developer", "Developer (applications and subscriptions)"
    VIEWER = "viewer", "Viewer (read only)"

    @classmethod
    def at_least(cls, role: str) -> list[str]:
        """The roles that include `role`: `at_least(ADMIN)` is owner and admin."""
        order = [cls.VIEWER, cls.DEVELOPER, cls.ADMIN, cls.OWNER]
        return [str(each) for each in order[order.index(cls(role)) :]]


# Owners are made among members, never invited.
INVITED_ROLES = [(role.value, role.label) for role in (Role.ADMIN, Role.DEVELOPER, Role.VIEWER)]


class Team(models.Model):
    """A group of developers owning applications (as consumers) and APIs (as providers)."""

    name = models.CharField(max_length=100)
    # The team every user has from the start; it holds that user alone.
    personal_of = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="personal_team",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_personal(self) -> bool:
        return self.personal_of_id is not None


class Membership(models.Model):
    """One user in one team, with one role."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "user"], name="one_membership_per_team_and_user"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class Invitation(models.Model):
    """An e-mailed, single-use and expiring link to join a team; only its digest is stored."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email} to {self.team} ({self.role})"

    def is_open(self, now: datetime | None = None) -> bool:
        """Neither used nor expired."""
        return self.accepted_at is None and (now or timezone.now()) < self.expires_at
