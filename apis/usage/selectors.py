"""Reads of usage: rollup rows as their owner or staff may see them."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from apis.models import Api, Subscription, UsageEvent, UsageRejected, UsageRollup
from apis.selectors import VISIBLE_STATES
from apis.usage.series import WINDOWS, series
from apis.usage.stream import usage_stream
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


def usage_apis(*, user: AbstractBaseUser) -> QuerySet[Api]:
    """The APIs `user` may name in a usage query: staff any; others the catalog and their own.

    A developer naming an API in design gets the same answer as for a slug that does not
    exist, so the query cannot tell hidden APIs apart from missing ones.
    """
    if user.is_staff:
        return Api.objects.all()
    used = UsageRollup.objects.filter(application__owner=user).values("api")
    return Api.objects.filter(Q(state__in=VISIBLE_STATES) | Q(pk__in=used))


def usage_backlog() -> dict[str, int | None]:
    """What has not reached the rollups yet: stream entries (None without Redis), stored events
    not rolled up, and entries the database refused."""
    stream = usage_stream()
    return {
        "stream": stream.length() if stream is not None else None,
        "pending_rollup": UsageEvent.objects.filter(rolled_up=False).count(),
        "rejected": UsageRejected.objects.count(),
    }


def api_usage_series(*, api: Api, now: datetime | None = None) -> dict[str, list]:
    """Calls and errors of one API per day over the last 30 days, all applications together."""
    window = WINDOWS[1]
    starts = window.starts(now or timezone.now())
    rows = UsageRollup.objects.filter(
        api=api, granularity=window.granularity, period_start__gte=starts[0]
    )
    return series(rows, starts, window.granularity)


def api_subscribers(*, api: Api) -> QuerySet[Subscription]:
    """The API's subscriptions by status and application, each with its `last_call`."""
    latest = UsageEvent.objects.filter(api=api, application=OuterRef("application")).order_by("-at")
    return (
        Subscription.objects.filter(api=api)
        .select_related("application__owner", "plan")
        .annotate(last_call=Subquery(latest.values("at")[:1]))
        .order_by("status", "application__name")
    )
