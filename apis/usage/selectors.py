"""Reads of usage: rollup rows as their owner or staff may see them."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from apis.models import Api, UsageRollup
from keys.models import Application


def usage_rows(
    *,
    user: AbstractBaseUser,
    api: Api | None = None,
    application: Application | None = None,
    granularity: str = "hour",
    since: datetime | None = None,
) -> QuerySet[UsageRollup]:
    """Rollups of one granularity, newest first: staff see all, a developer their own apps'."""
    rows = UsageRollup.objects.filter(granularity=granularity).select_related("api", "application")
    if not user.is_staff:
        rows = rows.filter(application__owner=user)
    if api is not None:
        rows = rows.filter(api=api)
    if application is not None:
        rows = rows.filter(application=application)
    if since is not None:
        rows = rows.filter(period_start__gte=since)
    return rows.order_by("-period_start", "api__slug", "application_id")


def usage_applications(*, user: AbstractBaseUser) -> QuerySet[Application]:
    """The applications whose usage `user` may read."""
    applications = Application.objects.all()
    return applications if user.is_staff else applications.filter(owner=user)
