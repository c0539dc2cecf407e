"""Which of an API's targets a call tries first: weighted round robin or fewest in flight.

Both are this process's view, as in nginx and Envoy: the round robin is nginx's smooth
weighted one (a target of weight 3 among weights 3, 1 gets three calls in four, never three in
a row before the other's one), and calls in flight are counted where they are made. The order
returned puts the others behind the first in the order they would come next, so that while a
target is down its share is spread over the rest instead of falling on its neighbour.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence

from apis.models import Api, UpstreamTarget


class _Balancer:
    """Round-robin weights per API and calls in flight per target (one event loop's steps run
    one at a time, so no lock is needed)."""

    def __init__(self) -> None:
        self.current: dict[int, Counter] = {}
        self.in_flight: Counter = Counter()


_balancer = _Balancer()


def preference(
    api: Api, targets: Sequence[UpstreamTarget], excluded: Collection[int] = ()
) -> list[UpstreamTarget]:
    """The targets not excluded, the one this call should go to first."""
    candidates = [target for target in targets if target.pk not in excluded]
    if not candidates:
        return []
    if api.balancing == Api.Balancing.LEAST_IN_FLIGHT:
        return _least_in_flight(api, candidates)
    return _round_robin(api, candidates)


def _round_robin(api: Api, candidates: list[UpstreamTarget]) -> list[UpstreamTarget]:
    current = _balancer.current.setdefault(api.pk, Counter())
    for target in candidates:
        current[target.pk] += target.weight
    first = max(candidates, key=lambda target: current[target.pk])
    current[first.pk] -= sum(target.weight for target in candidates)
    rest = sorted((t for t in candidates if t is not first), key=lambda t: -current[t.pk])
    return [first, *rest]


def _least_in_flight(api: Api, candidates: list[UpstreamTarget]) -> list[UpstreamTarget]:
    def load(target: UpstreamTarget) -> float:
        return _balancer.in_flight[target.pk] / target.weight

    lightest = min(load(target) for target in candidates)
    # Ties (an idle API, most of all) go round by weight, not always to the first target.
    first = _round_robin(api, [t for t in candidates if load(t) == lightest])[0]
    return [first, *sorted((t for t in candidates if t is not first), key=load)]


def started(target: UpstreamTarget) -> None:
    """A call to the target is in flight."""
    _balancer.in_flight[target.pk] += 1


def finished(target: UpstreamTarget) -> None:
    """A call to the target is over (its answer sent or dropped)."""
    _balancer.in_flight[target.pk] -= 1
    if _balancer.in_flight[target.pk] <= 0:
        del _balancer.in_flight[target.pk]
