"""Reads of usage: rollup rows as the applications' teams or staff may see them."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from apis.models import Api, Subscription, UsageEvent, UsageRejected, UsageRollup
from apis.selectors import VISIBLE_STATES, runs_catalog
from apis.usage.histogram import ENTRIES
from apis.usage.series import WINDOWS, series
from apis.usage.stream import usage_stream
from keys.models import Application
from keys.selectors import applications_of
from teams.models import Team
from teams.selectors import teams_of


def usage_rows(
    *,
    user: AbstractBaseUser,
    team: Team | None = None,
    api: Api | None = None,
    application: Application | None = None,
    granularity: str = "hour",
    since: datetime | None = None,
) -> QuerySet[UsageRollup]:
    """Rollups of one granularity, newest first: staff see all, a member their teams' apps'
    (`team`: of that one team, which must be one of them)."""
    rows = UsageRollup.objects.filter(granularity=granularity).select_related("api", "application")
    if not runs_catalog(user):
        rows = rows.filter(application__team__in=teams_of(user))
    if team is not None:
        rows = rows.filter(application__team=team)
    if api is not None:
        rows = rows.filter(api=api)
    if application is not None:
        rows = rows.filter(application=application)
    if since is not None:
        rows = rows.filter(period_start__gte=since)
    return rows.order_by("-period_start", "api__slug", "application_id")


def usage_applications(*, user: AbstractBaseUser) -> QuerySet[Application]:
    """The applications whose usage `user` may read."""
    return Application.objects.all() if runs_catalog(user) else applications_of(user)


def usage_apis(*, user: AbstractBaseUser) -> QuerySet[Api]:
    """The APIs `user` may name in a usage query: staff any; others the catalog and their own.

    A developer naming an API in design gets the same answer as for a slug that does not
    exist, so the query cannot tell hidden APIs apart from missing ones.
    """
    if runs_catalog(user):
        return Api.objects.all()
    # One probe per API through the rollups' (granularity, API, period) index, which stops at
    # the first row of the user's teams: not a scan of every rollup those teams have.
    used = UsageRollup.objects.filter(
        granularity=UsageRollup.Granularity.DAY,
        api=OuterRef("pk"),
        application__team__in=teams_of(user),
    )
    return Api.objects.filter(Q(state__in=VISIBLE_STATES) | Exists(used))


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
        .select_related("application__team", "plan")
        .annotate(last_call=Subquery(latest.values("at")[:1]))
        .order_by("status", "application__name")
    )


def latency_by_api(*, since: datetime) -> dict[str, dict[str, int]]:
    """Each API's latency histogram of the calls in the hours from `since`: the hourly
    rollups' histograms added up in the database, bucket by bucket."""
    sql = f"""
        SELECT a.slug, h.key, sum(CAST(h.value AS bigint))
        FROM apis_usagerollup AS r JOIN apis_api AS a ON a.id = r.api_id,
          {ENTRIES[connection.vendor]}(r.latency_histogram) AS h
        WHERE r.granularity = 'hour' AND r.period_start >= %s
        GROUP BY a.slug, h.key
    """  # noqa: S608 - the function's name is one of two constants
    histograms: dict[str, dict[str, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(since)])
        for slug, key, count in cursor.fetchall():
            histograms.setdefault(slug, {})[str(key)] = int(count)
    return histograms
