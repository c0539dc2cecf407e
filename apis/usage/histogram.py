"""Latency histograms of the usage rollups: mergeable, so that rolling up adds a batch in.

A histogram maps a latency in milliseconds, the representative of its bucket, to a count.
Up to EXACT_MS every millisecond is its own bucket; above, buckets are log-spaced (DDSketch's
mapping: bucket i holds (GAMMA^(i-1), GAMMA^i] and reports 2 GAMMA^i / (GAMMA + 1)), so a
percentile read from a histogram is off the exact nearest-rank one by at most RELATIVE_ERROR,
plus the rounding to whole milliseconds: ERROR_BOUND in all, however many histograms were
added. On PostgreSQL the functions are SQL (migration 0016); on SQLite these are registered
on each connection under the same names.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping

EXACT_MS = 100
RELATIVE_ERROR = 0.01
GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
ERROR_BOUND = RELATIVE_ERROR + 0.5 / EXACT_MS
INT_MAX = 2**31 - 1
# The table function giving a histogram's entries as rows (key, value), in each database.
ENTRIES = {"postgresql": "jsonb_each_text", "sqlite": "json_each"}


def bucket(ms: int) -> int:
    """The representative of the bucket that a latency of `ms` falls in."""
    if ms <= EXACT_MS:
        return max(ms, 0)
    index = math.ceil(math.log(ms) / math.log(GAMMA))
    return min(round(2 * GAMMA**index / (GAMMA + 1)), INT_MAX)


def merged(histograms: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """The histogram of all the calls that `histograms` count."""
    total: Counter[str] = Counter()
    for histogram in histograms:
        total.update(histogram)
    return dict(total)


def percentile(histogram: Mapping[str, int], rank: int) -> int:
    """The nearest-rank percentile `rank` (0-100) of the counted latencies; 0 when none."""
    total, below = sum(histogram.values()), 0
    for key in sorted(histogram, key=int):
        below += histogram[key]
        if below * 100 >= rank * total and below:
            return int(key)
    return 0


def _add(a: str | None, b: str | None) -> str:
    return json.dumps(merged([json.loads(a or "{}"), json.loads(b or "{}")]))


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """The histogram functions on a new SQLite connection (connection_created)."""
    if connection.vendor != "sqlite":
        return
    raw = connection.connection
    raw.create_function("usage_latency_bucket", 1, bucket, deterministic=True)
    raw.create_function("usage_histogram_add", 2, _add, deterministic=True)
