"""Who is calling: the client's address, believing X-Forwarded-For from trusted proxies only."""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest

from core.conf import AppSettings

# The same setting the gateway reads: one list of proxies for the whole site.
network_settings = AppSettings("GATEWAY", {"TRUSTED_PROXIES": []})


def client_address(request: HttpRequest) -> str:
    """The first address, from the right of the forwarding chain, that is not a trusted proxy."""
    peer = request.META.get("REMOTE_ADDR", "")
    if not _trusted(peer):
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    chain = [part.strip() for part in forwarded.split(",") if part.strip()]
    for address in reversed(chain):
        if not _trusted(address):
            return address
    return chain[0] if chain else peer


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net) for net in network_settings.TRUSTED_PROXIES)


def is_direct_loopback(request: HttpRequest) -> bool:
    """Whether the caller is on this host and no proxy forwarded the call."""
    # A reverse proxy on this host also connects from loopback: a forwarded call is not local.
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False
