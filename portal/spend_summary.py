"""The usage page's spend this month: each budgeted subscription against its budget, with the
days left, and the month's alerts of the developer's applications."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from apis.models import SpendAlert, Subscription, UsageEvent
from teams.models import Team


@dataclass(frozen=True)
class SpendRow:
    """What a subscription spent this month against its budget (the plan's or the
    application's, whichever is smaller)."""

    application: str
    api: str
    spent: Decimal
    budget: Decimal

    @property
    def percent(self) -> int:
        return int(self.spent * 100 / self.budget) if self.budget else 100


def month_spend(*, team: Team, now: datetime | None = None) -> dict[str, object]:
    """The budgeted subscriptions of the team's applications, the days left, the month's alerts."""
    now = (now or timezone.now()).astimezone(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    subscriptions = Subscription.objects.filter(
        application__team=team, status=Subscription.Status.ACTIVE
    ).select_related("application", "api", "plan")
    spent = {
        (row["application_id"], row["api_id"]): row["cost"]
        for row in UsageEvent.objects.filter(application__team=team, at__gte=start)
        .values("application_id", "api_id")
        .annotate(cost=Sum("cost"))
    }
    rows = []
    for subscription in subscriptions:
        budgets = [
            b
            for b in (subscription.plan.monthly_budget, subscription.application.monthly_budget)
            if b is not None
        ]
        if budgets:
            cost = spent.get((subscription.application_id, subscription.api_id)) or Decimal(0)
            rows.append(
                SpendRow(subscription.application.name, subscription.api.name, cost, min(budgets))
            )
    alerts = SpendAlert.objects.filter(
        application__team=team, month=now.strftime("%Y-%m")
    ).select_related("application", "api")
    return {
        "rows": rows,
        "days_left": calendar.monthrange(now.year, now.month)[1] - now.day + 1,
        "alerts": list(alerts),
    }
