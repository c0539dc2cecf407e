"""Active health: each target's health path, probed on a schedule, decides its circuit.

Beat runs `targets_probe` every PORTCULLIS_PROBE_SECONDS. A probe that gets an answer below 400
in time closes the target's circuit (a recovered backend takes calls again without waiting for
its cool-down); any other outcome opens it, for every gateway process at once.
"""

from __future__ import annotations

import asyncio

import httpx

from apis.gateway import circuits
from apis.gateway.forward import upstream_url
from apis.gateway.loop_pools import close_loop_pools
from apis.models import Api, UpstreamTarget
from lifecycle.states import State

PROBE_TIMEOUT = 5.0
CALLABLE = (State.PUBLISHED, State.DEPRECATED)


def targets_probe() -> dict[str, int]:
    """Probe every target of the callable REST APIs that name a health path."""
    targets = list(
        UpstreamTarget.objects.filter(api__state__in=CALLABLE, api__kind=Api.Kind.REST)
        .exclude(api__health_path="")
        .select_related("api")
    )
    return asyncio.run(_probe_all(targets))


async def _probe_all(targets: list[UpstreamTarget]) -> dict[str, int]:
    try:
        async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
            passed = await asyncio.gather(*(_probe(client, target) for target in targets))
    finally:
        await close_loop_pools()  # this loop ends here; its pools must not outlive it
    return {"healthy": sum(passed), "unhealthy": len(passed) - sum(passed)}


async def _probe(client: httpx.AsyncClient, target: UpstreamTarget) -> bool:
    api = target.api
    url = upstream_url(target.url, api.health_path, "")
    timeout = httpx.Timeout(min(api.timeout, PROBE_TIMEOUT), connect=api.connect_timeout)
    try:
        # The body is never read: a status is all a probe needs, and a health path that never
        # ends its answer would hold the probe (and its memory) until it did.
        async with client.stream("GET", url, timeout=timeout) as response:
            status = response.status_code
    except httpx.HTTPError as exc:
        reason, ok = f"health probe: {type(exc).__name__}", False
    else:
        reason, ok = f"health probe: answered {status}", status < 400
    await circuits.probed(target, api, ok=ok, reason=reason)
    return ok
