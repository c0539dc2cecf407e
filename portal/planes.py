"""Which plane serves a path: the data plane's async views, or the control plane's Django."""


def is_data_plane(path: str) -> bool:
    """Whether a request path belongs to the gateway's data plane."""
    return path.startswith("/gw/") or path in ("/mcp", "/healthz")
