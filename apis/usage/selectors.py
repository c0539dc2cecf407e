"""Reads of usage: rollup rows as the applications' teams or staff may see them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from apis.models import Api, Subscription
from apis.selectors import VISIBLE_STATES, runs_catalog
from apis.usage.histogram import ENTRIES
from apis.usage.models import (
    SpendRollup,
    UsageEventPending,
    UsageRejected,
    UsageRollup,
)
from apis.usage.series import WINDOWS, series
from apis.usage.stream import usage_stream
from keys.models import Application
from keys.selectors import applications_of
from teams.models import Team
from teams.selectors import teams_of


def usage_rows(
    *,
    user: User,
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
        rows = rows.filter(application_id__in=_application_ids(teams_of(user)))
    if team is not None:
        rows = rows.filter(application_id__in=_application_ids([team]))
    if api is not None:
        rows = rows.filter(api=api)
    if application is not None:
        rows = rows.filter(application=application)
    if since is not None:
        rows = rows.filter(period_start__gte=since)
    return rows.order_by("-period_start", "api__slug", "application_id")


def _application_ids(teams: Iterable[Team]) -> list[int]:
    """The ids of the teams' applications, read first: the rollups are then found through
    their (granularity, application, period) index, never by joining every row of a window
    to its application to test its team."""
    applications = Application.objects.filter(team__in=teams).order_by()
    return list(applications.values_list("pk", flat=True))


def usage_applications(*, user: User) -> QuerySet[Application]:
    """The applications whose usage `user` may read."""
    return Application.objects.all() if runs_catalog(user) else applications_of(user)


def usage_apis(*, user: User) -> QuerySet[Api]:
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
        application_id__in=_application_ids(teams_of(user)),
    )
    return Api.objects.filter(Q(state__in=VISIBLE_STATES) | Exists(used))


def usage_backlog() -> dict[str, int | None]:
    """What has not reached the rollups yet: stream entries (None without Redis), stored events
    not rolled up, and entries the database refused."""
    stream = usage_stream()
    return {
        "stream": stream.length() if stream is not None else None,
        "pending_rollup": UsageEventPending.objects.count(),
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
    """The API's subscriptions by status and application, each with its `last_call`, read
    from the application's newest daily rollup of the API: kept when the events are pruned."""
    latest = UsageRollup.objects.filter(
        granularity=UsageRollup.Granularity.DAY, api=api, application=OuterRef("application")
    ).order_by("-period_start")
    return (
        Subscription.objects.filter(api=api)
        .select_related("application__team", "plan")
        .annotate(last_call=Subquery(latest.values("last_call_at")[:1]))
        .order_by("status", "application__name")
    )


def latency_by_api(*, since: datetime) -> dict[str, dict[str, int]]:
    """Each API's latency histogram of the calls in the hours from `since`: the APIs' hourly
    histograms added up in the database, bucket by bucket, one row per API and hour read
    whatever the number of applications."""
    sql = f"""
        SELECT a.slug, h.key, sum(CAST(h.value AS bigint))
        FROM apis_apilatencyhour AS r JOIN apis_api AS a ON a.id = r.api_id,
          {ENTRIES[connection.vendor]}(r.latency_histogram) AS h
        WHERE r.period_start >= %s
        GROUP BY a.slug, h.key
    """  # noqa: S608 - the function's name is one of two constants
    histograms: dict[str, dict[str, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(since)])
        for slug, key, count in cursor.fetchall():
            histograms.setdefault(slug, {})[str(key)] = int(count)
    return histograms


SPEND_GROUPS = {
    "applications": ("application__name",),
    "apis": ("api__slug",),
    "deployments": ("api__slug", "model"),
}


def month_start(now: datetime | None = None) -> datetime:
    """The first instant of the calendar month (UTC) that `now` falls in."""
    now = (now or timezone.now()).astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def spend_this_month(*, now: datetime | None = None) -> dict[str, list[dict]]:
    """The month's calls and spend per application, per API and per deployment (the model
    that answered), with the calls whose tokens were estimated apart; from the daily spend
    rollups, so the rows read are the month's days, however many events they sum up."""
    rows = SpendRollup.objects.filter(day__gte=month_start(now).date())
    sums = {
        "calls_made": Sum("calls"),
        "spent": Sum("cost"),
        "estimated": Sum("estimated_calls"),
        "estimated_spent": Sum("estimated_cost"),
        "cached": Sum("cached_calls"),
    }
    spend = {
        name: list(rows.values(*fields).annotate(**sums).order_by("-spent", *fields))
        for name, fields in SPEND_GROUPS.items()
    }
    spend["deployments"] = [row for row in spend["deployments"] if row["model"]]
    return spend


def spend_by_subscription(
    *, now: datetime | None = None, team: Team | None = None
) -> dict[tuple[int, int], Decimal]:
    """The month's spend of each (application, API), of the team's applications or all, from
    the daily spend rollups."""
    rows = SpendRollup.objects.filter(day__gte=month_start(now).date())
    if team is not None:
        rows = rows.filter(application__team=team)
    sums = rows.values_list("application_id", "api_id").annotate(spent=Sum("cost"))
    return {(application, api): spent for application, api, spent in sums}
