"""Usage as a time series: the windows the charts show and requests and errors per period."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apis.usage.models import UsageRollup


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


def series(
    rows: Iterable[UsageRollup], starts: list[datetime], granularity: str
) -> dict[str, list]:
    """Requests and errors per period start, labelled for the chart."""
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
