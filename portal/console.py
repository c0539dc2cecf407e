"""The operator's dashboard at /admin/: traffic, approvals, deprecations, circuits, health."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apis.gateway.circuits import CLOSED, Circuit, circuits_of
from apis.gateway.errors import SHARED_CACHE_ERRORS
from apis.models import Api, Subscription, UpstreamTarget, UsageRollup
from apis.usage.histogram import merged, percentile
from apis.usage.selectors import spend_by_subscription, usage_backlog, usage_rows
from apis.usage.series import WINDOWS, series
from keys.models import Application
from lifecycle.states import State
from portal import health
from portal.spend_summary import SpendRow, budget_rows

TOP = 5
PENDING_SHOWN = 20
# A deprecated API's subscriber "still calls" it when it did within this many days.
STILL_CALLING_DAYS = 7
# Budgets listed on the dashboard: those this much spent, or more.
NEAR_BUDGET_PERCENT = 80


@dataclass(frozen=True)
class Ranked:
    """One line of a top list: a name and its figure."""

    name: str
    value: int | Decimal


@dataclass(frozen=True)
class Deprecation:
    """A deprecated API with its sunset and who is still on it."""

    api: Api
    live_subscriptions: int
    still_calling: int


def traffic(*, user: User, now: datetime | None = None) -> dict[str, object]:
    """Calls and errors of the last 24 hours (hourly rollups), p95 and the top lists."""
    window = WINDOWS[0]
    starts = window.starts(now or timezone.now())
    rows = list(usage_rows(user=user, granularity=window.granularity, since=starts[0]))
    return {
        "chart": series(rows, starts, window.granularity),
        "requests": sum(row.requests for row in rows),
        "errors": sum(row.errors for row in rows),
        # Of every call of the 24 hours: the hours' histograms added up.
        "p95_ms": percentile(merged(row.latency_histogram for row in rows), 95),
        "top_apis": _top(rows, key=lambda row: row.api.slug, value="requests"),
        "top_applications": _top(rows, key=lambda row: row.application.name, value="requests"),
        "top_api_spend": _top(rows, key=lambda row: row.api.slug, value="cost"),
        "top_application_spend": _top(rows, key=lambda row: row.application.name, value="cost"),
    }


def _top(rows: list[UsageRollup], *, key, value: str) -> list[Ranked]:
    totals: Counter = Counter()
    for row in rows:
        totals[key(row)] += getattr(row, value)
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return [Ranked(name, amount) for name, amount in ranked[:TOP] if amount]


def pending_subscriptions() -> QuerySet[Subscription]:
    """Subscriptions waiting for a decision, oldest first."""
    return (
        Subscription.objects.filter(status=Subscription.Status.PENDING)
        .select_related("application__team", "api", "plan")
        .order_by("created_at", "id")
    )


def deprecations(*, now: datetime | None = None) -> list[Deprecation]:
    """Deprecated APIs, nearest sunset first, with live subscribers and those still calling."""
    since = (now or timezone.now()) - timedelta(days=STILL_CALLING_DAYS)
    apis = Api.objects.filter(state=State.DEPRECATED).annotate(
        live=Count("subscriptions", filter=Q(subscriptions__status__in=Subscription.LIVE))
    )
    calling = dict(
        UsageRollup.objects.filter(
            granularity=UsageRollup.Granularity.HOUR,
            period_start__gte=since,
            requests__gt=0,
            api__in=apis,
        )
        .values("api")
        .annotate(n=Count("application", distinct=True))
        .values_list("api", "n")
    )
    ordered = sorted(apis, key=lambda api: (api.sunset is None, api.sunset or since, api.slug))
    return [Deprecation(api, api.live, calling.get(api.pk, 0)) for api in ordered]


def budgets_near(*, now: datetime | None = None) -> list[SpendRow]:
    """Subscriptions (their plan's budget) and applications (their own, over every API) that
    spent 80% or more of their budget this month, the nearest to it first; from the spend
    rollups, reading the budgeted subscriptions and applications only."""
    subscriptions = Subscription.objects.filter(
        status=Subscription.Status.ACTIVE, plan__monthly_budget__isnull=False
    ).select_related("application", "api", "plan")
    applications = Application.objects.filter(monthly_budget__isnull=False)
    rows = budget_rows(subscriptions, applications, spend_by_subscription(now=now))
    near = [row for row in rows if row.percent >= NEAR_BUDGET_PERCENT]
    return sorted(near, key=lambda row: (-row.percent, row.application, row.api))


@dataclass(frozen=True)
class Tripped:
    """An upstream target whose circuit is open or half-open, and why."""

    target: UpstreamTarget
    circuit: Circuit


def tripped_targets() -> list[Tripped] | None:
    """Upstream targets whose circuit is not closed, by API; None when Redis does not answer."""
    targets = list(UpstreamTarget.objects.select_related("api").order_by("api__slug", "id"))
    try:
        found = circuits_of(targets)
    except SHARED_CACHE_ERRORS:
        return None
    return [Tripped(t, found[t.pk]) for t in targets if found[t.pk].state != CLOSED]


def platform_health() -> dict[str, object]:
    """Each dependency check's result ("ok" or what failed) and the usage backlog."""
    return {
        "checks": {name: health.run_check(check) for name, check in health.checks().items()},
        "warnings": health.warnings_of_redis(),
        "backlog": usage_backlog(),
    }


def dashboard(*, user: User) -> dict[str, object]:
    """The dashboard's sections that `user` may see, by their admin permissions."""
    sections: dict[str, object] = {"health": platform_health()}
    if user.has_perm("apis.view_usagerollup"):
        sections["traffic"] = traffic(user=user)
    if user.has_perm("apis.change_subscription"):
        pending = pending_subscriptions()
        sections["pending"] = list(pending[:PENDING_SHOWN])
        sections["pending_count"] = pending.count()
    if user.has_perm("apis.view_api"):
        sections["deprecations"] = deprecations()
        sections["tripped"] = tripped_targets()
    if user.has_perm("apis.view_spendrollup"):
        sections["budgets"] = budgets_near()
    return sections
