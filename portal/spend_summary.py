"""The usage page's spend this month: each budgeted subscription, and each application with a
budget of its own, against its budget, with the days left, and the month's alerts of the
developer's applications."""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.utils import timezone

from apis.models import SpendAlert, Subscription
from apis.usage.selectors import spend_by_subscription
from keys.models import Application
from teams.models import Team


@dataclass(frozen=True)
class SpendRow:
    """What a subscription spent this month against its plan's budget, or (with no `api`) an
    application over every API against its own."""

    application: str
    api: str
    spent: Decimal
    budget: Decimal

    @property
    def percent(self) -> int:
        return int(self.spent * 100 / self.budget) if self.budget else 100


def budget_rows(
    subscriptions: Iterable[Subscription],
    applications: Iterable[Application],
    spent: dict[tuple[int, int], Decimal],
) -> list[SpendRow]:
    """Each subscription's spend against its plan's budget, then each application's (over
    every API) against its own, from the month's spend per (application, API)."""
    rows = [
        SpendRow(
            s.application.name,
            s.api.name,
            spent.get((s.application_id, s.api_id)) or Decimal(0),
            s.plan.monthly_budget,
        )
        for s in subscriptions
        if s.plan.monthly_budget is not None
    ]
    by_application: defaultdict[int, Decimal] = defaultdict(Decimal)
    for (application_id, _api_id), cost in spent.items():
        by_application[application_id] += cost
    return rows + [
        SpendRow(a.name, "", by_application[a.pk] or Decimal(0), a.monthly_budget)
        for a in applications
        if a.monthly_budget is not None
    ]


def month_spend(*, team: Team, now: datetime | None = None) -> dict[str, object]:
    """The budgets of the team's subscriptions and applications, the days left, the month's
    alerts; the spend from the daily spend rollups."""
    now = (now or timezone.now()).astimezone(UTC)
    subscriptions = Subscription.objects.filter(
        application__team=team, status=Subscription.Status.ACTIVE
    ).select_related("application", "api", "plan")
    applications = Application.objects.filter(team=team)
    rows = budget_rows(subscriptions, applications, spend_by_subscription(now=now, team=team))
    alerts = SpendAlert.objects.filter(
        application__team=team, month=now.strftime("%Y-%m")
    ).select_related("application", "api")
    return {
        "rows": rows,
        "days_left": calendar.monthrange(now.year, now.month)[1] - now.day + 1,
        "alerts": list(alerts),
    }
