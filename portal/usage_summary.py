"""The usage page's figures: a time series for the chart and totals per application and API."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.utils import timezone

from apis.models import UsageRollup
from apis.usage.histogram import percentile
from apis.usage.selectors import usage_rows
from apis.usage.series import Window, series
from teams.models import Team


@dataclass
class Totals:
    """What one application did with one API over a window."""

    application: str
    api: str
    requests: int = 0
    errors: int = 0
    tokens: int = 0
    # Of the tokens, those the gateway counted because the provider reported none.
    estimated_tokens: int = 0
    cost: Decimal = field(default_factory=Decimal)
    latencies: Counter[str] = field(default_factory=Counter)

    @property
    def p95_ms(self) -> int:
        """The window's p95, from the periods' histograms added up."""
        return percentile(self.latencies, 95)

    def add(self, row: UsageRollup) -> None:
        """Fold one rollup row in."""
        self.requests += row.requests
        self.errors += row.errors
        self.latencies.update(row.latency_histogram)
        self.tokens += row.prompt_tokens + row.completion_tokens
        self.estimated_tokens += row.estimated_tokens
        self.cost += row.cost


def usage_window(
    *, user: User, team: Team, window: Window, now: datetime | None = None
) -> dict[str, object]:
    """The chart series and the table of one window of `team`, as `user` may see them."""
    starts = window.starts(now or timezone.now())
    rows = list(usage_rows(user=user, team=team, granularity=window.granularity, since=starts[0]))
    return {
        "key": window.key,
        "label": window.label,
        "chart": series(rows, starts, window.granularity),
        "table": _totals(rows),
    }


def _totals(rows: Iterable[UsageRollup]) -> list[Totals]:
    totals: dict[tuple[int, int], Totals] = {}
    for row in rows:
        key = (row.application_id, row.api_id)
        if key not in totals:
            totals[key] = Totals(application=row.application.name, api=row.api.slug)
        totals[key].add(row)
    return sorted(totals.values(), key=lambda t: (t.application, t.api))
