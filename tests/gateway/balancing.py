"""Balancing a test API over loopback targets."""

from __future__ import annotations

from apis.models import Api
from apis.services import api_update
from tests.servers import free_port


def balance(api: Api, *targets: tuple[str, int], **policy) -> list:
    """Make the API's calls go to these (url, weight) targets, in this order of creation."""
    targets_given = [{"url": url, "weight": weight} for url, weight in targets]
    policy = {"circuit_failures": 2, "circuit_cool_down": 1, **policy}
    api_update(api=api, targets=targets_given, **policy)
    return list(api.targets.order_by("id"))


def dead_url() -> str:
    """The address of an upstream that refuses connections."""
    return f"http://127.0.0.1:{free_port()}"
