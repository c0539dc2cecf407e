"""The usage page's figures: a time series for the chart and totals per application and API."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone

from apis.models import UsageRollup
from apis.usage.selectors import usage_rows
from teams.models import Team


@dataclass(frozen=True)
class Window:
    """A span of the usage page: its rollup granularity, length and label."""

    key: str
    label: str
    granularity: str
    periods: int
    step: timedelta

    def starts(self, now: datetime) -> list[datetime]:
        """The period starts of this window, oldest first, ending with the current period."""
        if self.granularity == "hour":
            last = now.replace(minute=0, second=0, microsecond=0)
        else:
            last = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return [last - self.step * n for n in range(self.periods - 1, -1, -1)]


WINDOWS = (
    Window("24h", "Last 24 hours", "hour", 24, timedelta(hours=1)),
    Window("30d", "Last 30 days", "day", 30, timedelta(days=1)),
)


@dataclass
class Totals:
    """What one application did with one API over a window."""

    application: str
    api: str
    requests: int = 0
    errors: int = 0
    p95_ms: int = 0
    tokens: int = 0
    cost: Decimal = field(default_factory=Decimal)

    def add(self, row: UsageRollup) -> None:
        """Fold one rollup row in; p95 is the worst of the periods' p95s (an upper bound)."""
        self.requests += row.requests
        self.errors += row.errors
        self.p95_ms = max(self.p95_ms, row.p95_ms)
        self.tokens += row.prompt_tokens + row.completion_tokens
        self.cost += row.cost


def usage_window(
    *, user: AbstractBaseUser, team: Team, window: Window, now: datetime | None = None
) -> dict[str, object]:
    """The chart series and the table of one window of `team`, as `user` may see them."""
    starts = window.starts(now or timezone.now())
    rows = list(usage_rows(user=user, team=team, granularity=window.granularity, since=starts[0]))
    return {
        "key": window.key,
        "label": window.label,
        "chart": _series(rows, starts, window.granularity),
        "table": _totals(rows),
    }


def _series(
    rows: Iterable[UsageRollup], starts: list[datetime], granularity: str
) -> dict[str, list]:
    requests = dict.fromkeys(starts, 0)
    errors = dict.fromkeys(starts, 0)
    for row in rows:
        if row.period_start in requests:
            requests[row.period_start] += row.requests
            errors[row.period_start] += row.errors
    label = "%H:00" if granularity == "hour" else "%b %d"
    return {
        "labels": [start.strftime(label) for start in starts],
        "requests": list(requests.values()),
        "errors": list(errors.values()),
    }


def _totals(rows: Iterable[UsageRollup]) -> list[Totals]:
    totals: dict[tuple[int, int], Totals] = {}
    for row in rows:
        key = (row.application_id, row.api_id)
        if key not in totals:
            totals[key] = Totals(application=row.application.name, api=row.api.slug)
        totals[key].add(row)
    return sorted(totals.values(), key=lambda t: (t.application, t.api))
