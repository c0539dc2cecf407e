"""What a Redis must promise the gateway: never evict, and (for usage) survive a crash.

Revocations, rate windows and quotas live in Redis with expiry times. Any eviction policy but
`noeviction` may drop them under memory pressure, so a revoked token would work again and a
used-up quota start afresh: the gateway refuses to start on such a Redis. Usage events wait in
a Redis stream until they are ingested; a Redis without an append-only file loses the events
not yet ingested when it crashes, which `check --deploy` and /readyz say.
"""

from __future__ import annotations

from typing import Any

EVICTION = (
    "Redis evicts keys under memory pressure (maxmemory {maxmemory} with maxmemory-policy "
    "{maxmemory_policy}): revocations, rate windows and quotas could be dropped. Set "
    "maxmemory-policy noeviction, or maxmemory 0."
)
NO_APPEND_ONLY_FILE = (
    "Redis keeps no append-only file: a crash loses the usage events not yet ingested (seconds "
    "of calls). Set appendonly yes (appendfsync everysec) to keep them."
)


def eviction_problem(info: dict[str, Any]) -> str:
    """Why this Redis (its INFO) could evict the gateway's state, or "" when it cannot."""
    if int(info.get("maxmemory", 0)) > 0 and info.get("maxmemory_policy") != "noeviction":
        return EVICTION.format(**info)
    return ""


def durability_problem(info: dict[str, Any]) -> str:
    """Why a crash of this Redis (its INFO) would lose usage events, or "" when it would not."""
    return "" if int(info.get("aof_enabled", 0)) else NO_APPEND_ONLY_FILE
