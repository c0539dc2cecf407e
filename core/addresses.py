"""Who is calling: the client's address, believing X-Forwarded-For from trusted proxies only."""

from __future__ import annotations

import functools
import ipaddress

from django.http import HttpRequest

from core.conf import AppSettings

# The same setting the gateway reads: one list of proxies for the whole site.
network_settings = AppSettings("GATEWAY", {"TRUSTED_PROXIES": []})


def client_address(request: HttpRequest) -> str:
    """The first address, from the right of the forwarding chain, that is not a trusted proxy."""
    peer = request.META.get("REMOTE_ADDR", "")
    return first_untrusted(peer, trusted_chain(peer, request.META.get("HTTP_X_FORWARDED_FOR", "")))


def trusted_chain(peer: str, forwarded_for: str) -> list[str]:
    """The X-Forwarded-For chain, believed only when the direct peer is a proxy we trust."""
    if not forwarded_for or not _trusted(peer):
        return []
    return [part.strip() for part in forwarded_for.split(",") if part.strip()]


def first_untrusted(peer: str, chain: list[str]) -> str:
    """The first address, from the right of a believed chain, that is not a trusted proxy."""
    for address in reversed(chain):
        if not _trusted(address):
            return address
    return chain[0] if chain else peer


def _trusted(address: str) -> bool:
    networks = _networks(tuple(network_settings.TRUSTED_PROXIES))
    if not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


@functools.lru_cache(maxsize=8)
def _networks(
    proxies: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    # Parsed once per setting, not once per call.
    return tuple(ipaddress.ip_network(net) for net in proxies)


def is_direct_loopback(request: HttpRequest) -> bool:
    """Whether the caller is on this host and no proxy forwarded the call."""
    # A reverse proxy on this host also connects from loopback: a forwarded call is not local.
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False
